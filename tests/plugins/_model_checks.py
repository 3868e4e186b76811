"""The model contract checks of rnnbench.testing, under the short names the model plugins'
tests use."""

from rnnbench.testing import (  # noqa: F401
    ATOL,
    BATCH,
    HIDDEN,
    INPUT,
    STEPS,
    build_core as core,
    check_chunked_equals_whole,
    check_padding_invariance,
    check_parallel_equals_step_by_step,
    check_shapes,
    future_changes_past,
    random_inputs as inputs,
)
