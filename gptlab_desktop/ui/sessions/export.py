"""Asking where to export a session: a save dialog that suggests a file in the documents folder."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QDir, QStandardPaths, Qt
from PySide6.QtWidgets import QFileDialog, QWidget

from gptlab_desktop.models import Session, SessionSummary
from gptlab_desktop.services.session_library import ExportFormat, export_file_name


def open_export_dialog(
    parent: QWidget,
    session: Session | SessionSummary,
    fmt: ExportFormat,
    on_chosen: Callable[[str], None],
) -> QFileDialog:
    """Open (not blocking) a save dialog for ``session`` as ``fmt``; ``on_chosen`` gets the path."""
    dialog = QFileDialog(parent, f"Export Session as {fmt.label}")
    dialog.setObjectName("exportDialog")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setNameFilter(f"{fmt.label} (*{fmt.suffix})")
    dialog.setDefaultSuffix(fmt.suffix.lstrip("."))
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    dialog.setDirectory(folder or QDir.homePath())
    dialog.selectFile(export_file_name(session, fmt))
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.fileSelected.connect(on_chosen)
    # open(), not exec(): a modal loop must not nest inside the qasync one (see DESIGN.md).
    dialog.open()
    return dialog
