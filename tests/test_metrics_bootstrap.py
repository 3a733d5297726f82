"""Bootstrap weights and the weighted statistics that turn them into intervals."""

import math

import numpy as np
import pytest

from migraseg.metrics.bootstrap import (
    bootstrap_weights,
    mean_over_images,
    percentile_interval,
    pooled,
    weighted_quantile,
)


def test_weights_are_draws_with_replacement():
    weights = bootstrap_weights(7, 500, seed=3)
    assert weights.shape == (500, 7) and (weights.sum(axis=1) == 7).all()
    assert np.allclose(weights.mean(axis=0), 1.0, atol=0.15)  # each image drawn ~once
    assert np.array_equal(weights, bootstrap_weights(7, 500, seed=3))
    assert bootstrap_weights(0, 10).shape == (10, 0)


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_weighted_quantile_equals_quantile_of_repeated_values(q):
    rng = np.random.default_rng(0)
    values = rng.normal(size=40)
    image_of = rng.integers(0, 6, 40)
    weights = bootstrap_weights(6, 50, seed=1)
    got = weighted_quantile(weights, values, image_of, q)
    for row, w in zip(got, weights, strict=True):
        repeated = np.repeat(values, w[image_of].astype(int))
        expected = np.quantile(repeated, q) if repeated.size else np.nan
        assert row == pytest.approx(expected, nan_ok=True)


def test_pooled_and_mean_skip_undefined_images():
    ones = np.ones((1, 3))
    assert pooled(ones, np.array([1, 2, 0]), np.array([2, 2, 0]))[0] == 0.75
    assert math.isnan(pooled(ones, np.zeros(3), np.zeros(3))[0])
    assert mean_over_images(ones, np.array([1.0, np.nan, 3.0]))[0] == 2.0
    doubled = np.array([[2.0, 0.0, 1.0]])
    assert mean_over_images(doubled, np.array([1.0, 5.0, 4.0]))[0] == 2.0


def test_percentile_interval_and_too_many_undefined_resamples():
    low, high = percentile_interval(np.arange(1001, dtype=float))
    assert (low, high) == pytest.approx((25.0, 975.0))
    mostly_nan = np.full(100, np.nan)
    mostly_nan[:10] = 1.0
    assert all(math.isnan(v) for v in percentile_interval(mostly_nan))
