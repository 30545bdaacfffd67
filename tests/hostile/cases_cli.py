"""Command-line options that slipped through: an empty table name, context lists with holes or beyond any spec,
contexts given on the command line that multiply a sweep past its point limit."""
from hostile import Case

MANY = ",".join(str(t) for t in range(64, 464))  # 400 contexts x 2 tables x 216 structures x 13 depths

CASES = [
    Case("cli-entropy-deep-run-json", ("entropy", "{tmp}/run"), {"run/run.json": "[" * 100000 + "]" * 100000},
         needles=("run.json",)),
    Case("cli-entropy-malformed-record", ("entropy", "{tmp}/run", "--out", "{tmp}/out"),
         {"run/run.json": '{"history": {"evals": [{"x": 1}]}, "context": 4}'}, needles=("run record",)),
    Case("cli-estimate-empty-protocol", ("estimate", "gpt2_sm", "-p", ""), needles=("--protocol",)),
    Case("cli-estimate-blank-protocol", ("estimate", "gpt2_sm", "-p", "  "), needles=("--protocol",)),
    Case("cli-compare-empty-protocol", ("compare", "gpt2_sm", "gpt2_sm_ln_g", "-p", ""), needles=("--protocol",)),
    Case("cli-scaling-context-hole", ("scaling", "gpt2_sm_ln_g", "-p", "bumblebee", "-T", "4,,8"),
         needles=("--context",)),
    Case("cli-scaling-context-huge-range", ("scaling", "gpt2_sm_ln_g", "-p", "bumblebee", "-T", "2:99999999999999"),
         needles=("--context",)),
    Case("cli-scaling-context-four-parts", ("scaling", "gpt2_sm_ln_g", "-p", "bumblebee", "-T", "2:8:x2:3"),
         needles=("--context",)),
    Case("cli-sweep-out-name-too-long", ("sweep", "--space", "aero_plus", "-T", "64", "--out", "{tmp}/" + "b" * 300),
         needles=("expected a usable path",)),
    Case("cli-estimate-spec-name-too-long", ("estimate", "{tmp}/" + "s" * 300 + ".yaml"), needles=("expected",)),
    Case("cli-sweep-contexts-past-the-point-limit", ("sweep", "--space", "aero_plus", "-T", MANY, "--out",
                                                     "{tmp}/out"), needles=("--context", "2,000,000 points")),
]
