"""Ablations: train the same base model on each data variant, evaluate, and report the deltas.

    from aligntax.ablate import load_experiment, run_experiment, build_report
    exp = load_experiment("experiments/poison-mini.yaml")
    run_experiment(exp, "runs/poison-mini")          # data -> train -> eval, every step cached
    build_report(["runs/poison-mini"])                # results.csv + report.html

See docs/ablate.md. torch/transformers load only when a train or eval step actually runs.
"""

from aligntax.ablate.experiment import Experiment, Variant, load_experiment, parse_experiment
from aligntax.ablate.report import build_report
from aligntax.ablate.runner import AblationResult, run_experiment

__all__ = ["AblationResult", "Experiment", "Variant", "build_report", "load_experiment", "parse_experiment",
           "run_experiment"]
