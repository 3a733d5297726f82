"""Objects the simulator draws follow their configuration (scenes only: fast, many of them)."""

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from migraseg.synth.migrasomes import draw_diameter
from migraseg.synth.params import SceneParams
from migraseg.synth.scene import build_scene


def scenes(p: SceneParams, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [build_scene(rng, p, 60.0, 60.0) for _ in range(n)]


def test_diameters_follow_the_clipped_log_normal():
    p = SceneParams()
    rng = np.random.default_rng(1)
    drawn = np.array([draw_diameter(rng, p) for _ in range(3000)])
    placed = np.array([m.diameter_um for s in scenes(p, 80) for m in s.migrasomes])
    lo, hi = p.diameter_range_um
    ln = stats.lognorm(s=p.diameter_sigma, scale=p.diameter_median_um)

    def truncated_cdf(x):
        return (ln.cdf(x) - ln.cdf(lo)) / (ln.cdf(hi) - ln.cdf(lo))

    assert len(placed) > 400
    for sample in (drawn, placed):
        assert lo <= sample.min() and sample.max() <= hi
        assert np.median(sample) == pytest.approx(p.diameter_median_um, rel=0.06)
        # the clipped tails pile up at the ends; the rest follows the log-normal
        assert np.mean(sample == hi) == pytest.approx(ln.sf(hi), abs=0.015)
        inner = sample[(sample > lo) & (sample < hi)]
        assert stats.kstest(inner, truncated_cdf).pvalue > 0.01


def site_rates(p: SceneParams, n: int = 60) -> dict[str, float]:
    """Fraction of real tips and of branch points with a migrasome; along-fiber density."""
    tips = tipped = branches = branched = along = 0
    length = 0.0
    for scene in scenes(p, n):
        by_fiber: dict[int | None, list] = {}
        for m in scene.migrasomes:
            by_fiber.setdefault(m.fiber, []).append(m)
        along += sum(m.site == "along" and m.cluster is None for m in scene.migrasomes)
        for f in scene.fibers:
            length += f.length_um
            on_it = by_fiber.get(f.id, [])
            tip = [m for m in on_it if m.site == "tip"]
            if f.real_tip:
                tips += 1
                tipped += bool(tip)
                assert all(np.allclose(m.center, f.points[-1]) for m in tip)
            else:  # a broken fiber's inner end is no tip
                assert not tip
            if f.kind == "branch":
                branches += 1
                branched += any(
                    m.site == "branch" and np.allclose(m.center, f.points[0])
                    for m in by_fiber.get(f.parent, [])
                )
    return {"tip": tipped / tips, "branch": branched / branches, "along": along / length * 10}


@pytest.mark.parametrize("tip,branch", [(0.8, 0.3), (0.3, 0.8)])
def test_migrasomes_sit_at_tips_and_branch_points_as_configured(tip, branch):
    p = replace(
        SceneParams(), migrasome_at_tip=tip, migrasome_at_branch=branch, broken_fraction=0.3
    )
    rates = site_rates(p)
    # tip and branch migrasomes that would overlap a cell or an earlier one are dropped
    assert 0.85 * tip <= rates["tip"] <= tip + 0.03
    assert 0.6 * branch <= rates["branch"] <= branch + 0.05


@pytest.mark.parametrize("along", [0.1, 0.4])
def test_migrasomes_along_fibers_have_the_configured_density(along):
    p = replace(
        SceneParams(),
        migrasome_at_tip=0.0,
        migrasome_at_branch=0.0,
        migrasomes_along_per_10um=along,
    )
    assert site_rates(p)["along"] == pytest.approx(along, rel=0.12)


def test_clusters_touch_and_detached_migrasomes_keep_off_the_fibers():
    p = replace(
        SceneParams(),
        migrasome_at_tip=1.0,
        cluster_probability=1.0,
        cluster_size=(3, 3),
        detached_per_cell=1.0,
    )
    detached = n_cells = clustered = 0
    for scene in scenes(p, 40, seed=2):
        n_cells += len(scene.cells)
        all_points = np.vstack([f.points for f in scene.fibers])
        by_id = {m.id: m for m in scene.migrasomes}
        for m in scene.migrasomes:
            if m.site == "detached":
                detached += 1
                assert m.fiber is None
                assert np.linalg.norm(all_points - m.center, axis=1).min() > m.diameter_um / 2
            if m.cluster is not None:  # touching its neighbour towards the tip, on its fiber
                clustered += 1
                members = [x for x in scene.migrasomes if x.cluster == m.cluster]
                index = members.index(m)
                previous = by_id[m.cluster] if index == 0 else members[index - 1]
                gap = np.linalg.norm(m.center - previous.center)
                assert gap == pytest.approx((m.diameter_um + previous.diameter_um) / 2, rel=0.05)
                assert m.fiber == previous.fiber and index < 2
    tips = sum(m.site == "tip" for s in scenes(p, 40, seed=2) for m in s.migrasomes)
    assert clustered >= 1.5 * tips  # most tips carry two touching neighbours
    assert detached / n_cells == pytest.approx(p.detached_per_cell, rel=0.3)


def test_cells_fibers_and_breaks_follow_the_configuration():
    p = replace(SceneParams(), n_cells=(2, 2), fibers_per_cell=(4, 4), broken_fraction=0.5)
    for scene in scenes(p, 20, seed=3):
        assert len(scene.cells) == 2
        trunks = [f for f in scene.fibers if f.kind == "trunk"]
        assert len(trunks) == 8
        for f in scene.fibers:
            if f.kind == "fragment":
                parent = next(x for x in scene.fibers if x.id == f.parent)
                gap = np.linalg.norm(f.points[0] - parent.points[-1])
                assert (
                    p.break_gap_um[0] - p.fiber_step_um
                    <= gap
                    <= p.break_gap_um[1] + 2 * p.fiber_step_um
                )
            lo, hi = p.fiber_length_um
            if f.kind == "trunk" and f.real_tip:
                assert lo - p.fiber_step_um <= f.length_um <= hi + p.fiber_step_um
