"""Result records for the report tests: one task, models with 1-3 seeds, a baseline,
an n/a cell and a failed one."""


def rec(model, seed, value, status="ok", task="adding-50", reason=None, baselines=None):
    return {
        "task": task,
        "model": model,
        "seed": seed,
        "profile": "quick",
        "status": status,
        "reason": reason,
        "task_shape": "many-to-one",
        "task_family": "long-range",
        "task_description": "sum | two <b>marked</b>",
        "primary": {"name": "mse", "value": value, "direction": "min"},
        "metrics": {"mse": value, "solved": 0.5} if status == "ok" else {},
        "params": 1000,
        "train_seconds": 2.0,
        "throughput": {"unit": "samples/s", "value": 100.0},
        "peak_memory_mb": 10.0,
        "baselines": baselines or {"predict-1.0": {"mse": 0.167}},
    }


def sample_records():
    return [
        rec("lstm", 0, 0.010),
        rec("lstm", 1, 0.020),
        rec("lstm", 2, 0.030),
        rec("gru", 0, 0.025),
        rec("gru", 1, 0.035),
        rec("elman", 0, 0.170),
        rec("elman", 1, 0.168),
        rec("bi-lstm", 0, None, status="n/a", reason="bi-lstm is not causal"),
        rec("tcn", 0, None, status="failed", reason="timeout after 900 s"),
    ]


def sample_board(results):
    from rnnbench import report, store

    return report.build(store.load_records(results)[0])["profiles"]["quick"]["adding-50"]
