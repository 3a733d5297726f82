"""training.schedulers: warm-up then cosine decay, at the fractions asked for."""

import itertools
import math

import pytest
import torch

from migraseg.training.schedulers import warmup_cosine


def learning_rates(total_steps: int, **kwargs) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = warmup_cosine(optimizer, total_steps, **kwargs)
    rates = []
    for _ in range(total_steps + 1):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_warmup_rises_linearly_to_the_base_rate():
    rates = learning_rates(100, warmup_fraction=0.1, final_fraction=0.0)
    assert rates[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert max(rates) == pytest.approx(1.0)


def test_cosine_decays_monotonically_to_the_final_fraction():
    rates = learning_rates(100, warmup_fraction=0.1, final_fraction=0.02)
    decay = rates[10:]
    assert all(a >= b for a, b in itertools.pairwise(decay))
    assert rates[100] == pytest.approx(0.02)
    halfway = 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * 0.5))
    assert rates[55] == pytest.approx(halfway)


def test_at_least_one_warmup_step_for_short_runs():
    rates = learning_rates(5, warmup_fraction=0.05)
    assert rates[0] == pytest.approx(1.0)  # warm-up of one step: the base rate at once
