"""The assistant editor: one non-modal dialog to create, edit, duplicate or view an assistant.

``dialog.AssistantEditorDialog`` composes the parts, each in a module of its own: the form
(``form``, with its model, sampling and token-count pieces), the History tab (``versions``),
the Try-it pane (``try_it``), the buttons along the bottom (``buttons``) and the questions it
asks (``questions``). All work goes through ``AssistantLab``; no dialog here is ever
``exec()``'d.
"""
