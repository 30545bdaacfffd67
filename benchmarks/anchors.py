"""Write reports/anchors.md: every cost table against the published whole-model anchors it lists
(the report itself is pidse/report/anchors.py).

    python benchmarks/anchors.py > reports/anchors.md
"""
import sys

from pidse.report.anchors import markdown, results

if __name__ == "__main__":
    sys.stdout.write(markdown(results()))
