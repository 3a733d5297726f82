"""docs/analysis.md's pandas example runs on real migraseg-predict output folders and gives the
migrasomes per whole cell of each condition."""

import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from skimage.draw import disk

from migraseg.constants import BACKGROUND
from tests.test_predict_files import as_image, run
from tests.test_predict_files import write_imagej as write
from tests.test_predict_outputs import oracle, scene  # noqa: F401 (oracle: a fixture)

DOC = Path(__file__).resolve().parents[1] / "docs" / "analysis.md"


def test_the_analysis_example_runs_on_two_conditions(oracle, tmp_path, monkeypatch):  # noqa: F811
    matplotlib.use("Agg")
    fewer = scene()
    fewer[disk((120, 40), 5)] = BACKGROUND  # the whole cell keeps 1 migrasome of its 2
    for condition, labels in [("control", scene()), ("knockdown", fewer)]:
        for i in range(2):
            path = tmp_path / "images" / condition / f"{condition}{i}.tif"
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path, as_image(labels, i), "YX")
        reports = run(oracle, [tmp_path / "images" / condition], tmp_path / "pred" / condition)
        assert [r.status for r in reports] == ["done", "done"]
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    table = namespace["per_condition"]
    assert table.loc["control", "mean"] == pytest.approx(2.0)
    assert table.loc["knockdown", "mean"] == pytest.approx(1.0)
    assert np.all(table["count"] == 2)
    assert (tmp_path / "migrasomes_per_cell.png").stat().st_size > 1000
