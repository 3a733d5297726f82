"""The migrasome table under the widget: one row per Points-layer point; a click on a row
calls back with its index (the widget centres the view on it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qtpy.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem


class MigrasomeTable(QTableWidget):
    """Read-only table of migrasome rows (dicts with ``columns`` as keys)."""

    def __init__(self, columns: Sequence[str], on_row: Callable[[int], None]):
        super().__init__(0, len(columns))
        self.columns = list(columns)
        self.setHorizontalHeaderLabels(self.columns)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.cellClicked.connect(lambda row, _column: on_row(row))

    def show_rows(self, rows: Sequence[dict]) -> None:
        self.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, column in enumerate(self.columns):
                self.setItem(i, j, QTableWidgetItem(str(row.get(column, ""))))
        self.resizeColumnsToContents()
