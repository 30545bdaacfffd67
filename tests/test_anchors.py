"""Literature cost tables against the published whole-model anchors they list (../shared/reference/mpc.md).

These tables are built from per-op literature facts, NOT fitted to the anchors, so the bands below are wide
where the per-op facts are primitives the whole-model number depends on only through our own operation counts,
and tight where the per-op facts were themselves derived from the anchored run. A band is a ratio
predicted / published. The committed report (reports/anchors.md) is the output of benchmarks/anchors.py
(pidse/report/anchors.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from pidse.cost.registry import load_table
from pidse.cost.setting import resolve_network
from pidse.model.estimate import estimate
from pidse.report import anchors as report
from pidse.spec.load import load_spec

ROOT = Path(__file__).resolve().parents[1]

# anchor name -> {metric: (lowest, highest) ratio predicted / published}
BANDS = {
    # PUMA (puma-aby3): bytes are SPU's per-primitive costs (P) times operation counts we derived from PUMA's
    # constructions (multiplies per GELU polynomial, Newton iterations, exp squarings): the primitives are
    # primary, the counts secondary, so a factor band of 0.5x..2x. PUMA also leaves open whether its figure is
    # one party's sends or the total (we predict the total). Current ratios: 0.64, 1.19, 1.26.
    # Latency: the table models no compute (compute_s = 0), so its latency is a lower bound: it must not exceed
    # the published one, and 0.25 keeps it from collapsing unnoticed (current 0.49, 0.72, 0.85).
    "PUMA GPT-2 base 32->1": {"comm_bytes": (0.5, 2.0), "latency_s": (0.25, 1.0)},
    "PUMA BERT-base 128": {"comm_bytes": (0.5, 2.0), "latency_s": (0.25, 1.0)},
    "PUMA BERT-large 128": {"comm_bytes": (0.5, 2.0), "latency_s": (0.25, 1.0)},
    # PUMA LLaMA-7B 8->1: a KNOWN over-prediction, pinned, not agreement. The table predicts 3.7x the published
    # bytes; even with SiLU free it predicts 2.9 GB > 1.794 GB (linear layers and RMSNorm alone exceed it), and
    # PUMA's own LLaMA and GPT-2 figures imply per-element costs no single table can give both (see the anchor's
    # note). The band 2x..5x documents the gap and catches a change that moves it. Latency is compute-bound
    # (200.5 s, of which the bytes need 2.9 s): the network-only prediction must stay a small fraction.
    "PUMA LLaMA-7B 8->1": {"comm_bytes": (2.0, 5.0), "latency_s": (0.01, 0.25)},
    # SIGMA (sigma-fss): the nonlinear per-element bytes (softmax, GELU, LayerNorm: 54% of the total) were derived
    # from THIS run's breakdown, so they reproduce it by construction; what can move the total is the linear-layer
    # estimate (two 64-bit reveals per output: 0.45 GB against the rerun's 0.50 GB 'rest') and pidse's graph
    # (head, embedding). Hence a tight +-15% band. Rounds: the structural split was chosen so that the encoder
    # sums to 1,128 exactly; pidse's LM head and argmax add 32 (2.8%), hence 1.0..1.05.
    "SIGMA BERT-base 128": {"comm_bytes": (0.85, 1.15), "rounds": (1.0, 1.05)},
    # SIGMA GPT-2 128: a prediction (nothing was derived from this run): BERT-base's bytes per element on GPT-2's
    # causal graph, softmax over the T (T + 1) / 2 scores the mask keeps. Without the mask (every score, as an
    # encoder) it was 1.16x; with it 1.00x. Same +-15% band as BERT-base.
    "SIGMA GPT-2 base 128": {"comm_bytes": (0.85, 1.15)},
}


@pytest.fixture(scope="module")
def results():
    return {row["anchor"]: row for row in report.results()}


def test_every_anchor_has_a_band_and_every_band_an_anchor(results):
    assert set(results) == set(BANDS)


@pytest.mark.parametrize("anchor,metric", [(a, m) for a, bands in BANDS.items() for m in bands])
def test_prediction_within_band(results, anchor, metric):
    row = results[anchor]
    low, high = BANDS[anchor][metric]
    ratio = row[metric + "_pred"] / row[metric]
    assert low <= ratio <= high, (f"{anchor}: predicted {metric} {row[metric + '_pred']:.4g} is {ratio:.2f}x "
                                  f"the published {row[metric]:.4g}, outside {low}..{high}")


def test_sigma_encoder_rounds_are_sigmas_1128():
    # The rounds split of sigma-fss.yaml (rounds_note): embedding 1 + embedding LayerNorm 11 + 12 layers x
    # (6 linear x 2 + 2 matmul x 2 + softmax (2 x log2(128) + 32) + GELU 9 + 2 LayerNorms x 11) = 1 + 11 + 12 x 93.
    table = load_table("sigma-fss")
    spec = load_spec(ROOT / "arch_specs" / "bert_base.yaml", [], 128)
    result = estimate(spec, table=table, network=resolve_network(table=table))
    encoder = sum(row["rounds"] for row in result.ops if row["block"] != "head")
    assert encoder == 1 + 11 + 12 * 93 == 1128


def test_committed_report_is_current():
    # reports/anchors.md is generated; regenerate with `python benchmarks/anchors.py > reports/anchors.md`.
    assert (ROOT / "reports" / "anchors.md").read_text() == report.markdown(report.results())
