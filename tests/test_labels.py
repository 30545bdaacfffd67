"""AERO's notation in both directions (pidse.spec.labels): every label of the map resolves to a spec whose
aero_label is that label (by the stated rule where a family's labels differ), every published row resolves, and
`pidse calibrate` reads measured rows in the label layout."""
from __future__ import annotations

import csv
import re

import pytest
from typer.testing import CliRunner

from conftest import DATA, ROOT
from pidse.calibrate.fit import read_rows
from pidse.cli import app
from pidse.errors import InputError
from pidse.resources import DATA_DIR, SPECS_DIR
from pidse.spec.labels import LABELS_YAML, aero_label, label_map, resolve_label
from pidse.spec.load import load_spec

LABELS = label_map()
PUBLISHED = [*csv.DictReader((DATA_DIR / "ppl_published.csv").open()),
             *csv.DictReader((DATA / "aero_costs.csv").open())]
TEMPLATE = ROOT / "cost_tables" / "templates" / "aero-secretflow.yaml"


def round_trip(family: str, label: str) -> str:
    """The label aero_label gives back for (family, label): the label itself, except (see pidse.spec.labels)
    He & Hofmann's block, named by its family in AERO, and the training-only normalisations of ablation_norm."""
    if family == "he_hofmann":
        return f"H&H {label} (1 LN)"
    if family == "ablation_norm":
        return re.sub(r"\+[WS]Norm\([A-Z+]+\)$|\(scaled\)$", "", label)
    return label


def entry_cases():
    """(family, label, dataset) for every entry of the map and family it serves, plus a pruned ScFuFFN."""
    for entry in LABELS.labels:
        for family in entry.families:
            yield pytest.param(family, entry.label, entry.dataset, id=f"{family}:{entry.label}:{entry.dataset}")
            if "ScFuFFN" in entry.label:
                pruned = entry.label.replace("ScFuFFN", "ScFuFFNi6")
                yield pytest.param(family, pruned, entry.dataset, id=f"{family}:{pruned}:{entry.dataset}")


@pytest.mark.parametrize("family, label, dataset", list(entry_cases()))
def test_every_label_of_the_map_round_trips(family, label, dataset):
    entry = next(e for e in LABELS.labels if e.label == label.replace("ScFuFFNi6", "ScFuFFN")
                 and family in e.families and e.dataset == dataset)
    m = load_spec(SPECS_DIR / entry.spec).model  # the spec's own dims: no dims overrides
    dims = {"layers": m.layers, "heads": m.heads, "d_model": m.d_model, "vocab": m.vocab_size, "dataset": dataset}
    path, overrides = resolve_label(family, label, dims, "here")
    assert path == SPECS_DIR / entry.spec
    assert overrides == [*entry.overrides, *(["ffn.prune_last=6"] if "ScFuFFNi6" in label else [])]
    assert aero_label(load_spec(path, overrides)) == round_trip(family, label)


def test_the_round_trip_rule_has_two_exceptions():
    differ = {family for e in LABELS.labels for family in e.families if round_trip(family, e.label) != e.label}
    assert differ == {"he_hofmann", "ablation_norm"}
    assert round_trip("ablation_norm", "SM+SNorm(QKVO+FFN)") == "SM"
    assert round_trip("ablation_norm", "SM+ScFFN(scaled)") == "SM+ScFFN"


@pytest.mark.parametrize("row", PUBLISHED, ids=[f"{r['family']}:{r['arch']}:L{r['layers']}:T{r['context']}"
                                                 for r in PUBLISHED])
def test_every_published_row_resolves_to_its_dims(row):
    spec = load_spec(*resolve_label(row["family"], row["arch"], row, "published"))
    assert aero_label(spec) == round_trip(row["family"], row["arch"])
    m = spec.model
    assert (m.layers, m.heads, m.d_model) == (int(row["layers"]), int(row["heads"]), int(row["d_model"]))
    vocab = int(row["vocab"])
    assert m.vocab_size == vocab or vocab in LABELS.rounded_vocab


def test_resolve_label_rules():
    row = {"layers": "18", "heads": "12", "d_model": "768", "vocab": "16384", "dataset": "languini_books"}
    path, overrides = resolve_label("aero", "EReg(SM(t)+ScFuFFNi4)", row, "here")
    assert path == SPECS_DIR / "gpt2_sm_t_scfuffn_ereg.yaml"  # the dataset's entry wins over the general one
    assert overrides == ["training.entropy_lambda=5.0e-5", "ffn.prune_last=4", "model.layers=18",
                         "model.vocab_size=16384"]
    rounded = dict(row, layers="12", vocab="50000", dataset="codeparrot")  # "50K": the spec's exact vocabulary
    assert resolve_label("aero", "EReg(SM(t)+ScFuFFN)", rounded, "here") == (path, [])


@pytest.mark.parametrize("family, label, change, message", [
    ("baseline", "SM+LN+GG", {}, "here: arch: expected a label of family 'baseline' in ppl_labels.yaml (did you "
                                 "mean 'SM+LN+G'?); known: SM+LN+G, SM+LN+R, got 'SM+LN+GG'"),
    ("baseline", "SM+LN+G", {"d_model": "1024"}, "here: d_model: expected the spec's d_model (768, "
                                                 "gpt2_sm_ln_g.yaml), got '1024'"),
    ("baseline", "SM+LN+G", {"heads": "x"}, "here: heads: expected an integer, got 'x'"),
    ("aero", "SM+ScFuFFNi13", {}, "here: spec: expected a loadable spec ("),
])
def test_resolve_label_errors(family, label, change, message):
    row = dict({"layers": "12", "heads": "12", "d_model": "768", "vocab": "50000"}, **change)
    with pytest.raises(InputError) as err:
        resolve_label(family, label, row, "here")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert LABELS_YAML.name == "ppl_labels.yaml"


# ---- pidse calibrate, label layout ----------------------------------------------------------------------------

LABEL_CSV = """\
family,arch,layers,heads,d_model,vocab,context,comm_gb,latency_min
baseline,SM+LN+G,12,12,768,50000,128,25.32,8.21
baseline,SM+LN+R,12,12,768,50000,128,9.44,6.06
he_hofmann,SM+ScFFN,12,12,768,50000,128,6.83,5.31
aero,SM+ScFuFFNi6,12,12,768,50000,128,6.29,4.23
"""  # AERO (arXiv 2410.13060) Table 4, as in tests/data/aero_costs.csv


def test_calibrate_reads_the_label_layout(tmp_path):
    data = tmp_path / "labels.csv"
    data.write_text(LABEL_CSV)
    rows = read_rows(data)
    assert [r.name for r in rows] == ["SM+LN+G T=128", "SM+LN+R T=128", "SM+ScFFN T=128", "SM+ScFuFFNi6 T=128"]
    assert [aero_label(r.spec) for r in rows] == ["SM+LN+G", "SM+LN+R", "H&H SM+ScFFN (1 LN)", "SM+ScFuFFNi6"]
    assert {r.spec.inference.context for r in rows} == {128} and rows[0].comm_bytes == 25.32e9
    out = tmp_path / "fitted.yaml"
    result = CliRunner().invoke(app, ["calibrate", str(data), "-t", str(TEMPLATE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "SM+ScFuFFNi6 T=128" in result.stdout and out.is_file()


def test_calibrate_names_a_bad_label_row(tmp_path):
    data = tmp_path / "labels.csv"
    data.write_text(LABEL_CSV.replace("SM+LN+R", "SM+LN+X"))
    result = CliRunner().invoke(app, ["calibrate", str(data), "-t", str(TEMPLATE)])
    assert result.exit_code == 2
    assert f"error: {data}: line 3: arch: expected a label of family 'baseline'" in result.output
