"""The Providers page's editor: one profile's fields, read back as a ``ProviderProfile``.

What cannot be used is found by ``ProviderProfile.problems`` (the preferences' own rules) and
shown under its field. The key field is a secret field: empty keeps the saved key. OpenAI's
built-in profile has no key field here: its key is the account's, changed in the API key
dialog (one place for it). The environment's profile is shown read-only.
"""

from __future__ import annotations

import math
from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gptlab_desktop.config import API_KEY_ENV, BASE_URL_ENV
from gptlab_desktop.preferences import OPENAI_PROFILE_ID, Prices, ProviderProfile
from gptlab_desktop.ui.api_key_dialog import SecretLineEdit
from gptlab_desktop.ui.naming import name_widget
from gptlab_desktop.ui.settings.page_parts import report, report_label

PRICES_PROBLEM = (
    "Give both prices in US dollars per million tokens (e.g. 0.15 and 0.60), or neither."
)
ACCOUNT_KEY_TEXT = "OpenAI's key is your account's: check, change or remove it with API Key…."
ENVIRONMENT_TEXT = (
    f"This provider is set by {BASE_URL_ENV} (and its key by {API_KEY_ENV}) for this run; "
    "it is not editable here."
)


def key_placeholder(profile: ProviderProfile, *, has_key: bool) -> str:
    """What the empty key field says: whether a key is saved, or that none is needed."""
    if not profile.needs_key:
        return "Optional: this server needs no key unless it asks for one"
    if has_key:
        return "A key is saved: leave this empty to keep it"
    return f"No key saved: paste your {profile.preset.label} API key"


def _has_own_key(profile: ProviderProfile) -> bool:
    """Whether the profile's key is its own, typed here (not the account's or the
    environment's)."""
    return not profile.is_environment and profile.id != OPENAI_PROFILE_ID


class ProviderEditor(QWidget):
    """The fields of the profile selected on the Providers page."""

    #: The user asked to change OpenAI's key (the account's API key dialog).
    accountKeyRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._shown: ProviderProfile | None = None
        self.name_edit = self._line_edit(QLineEdit(), "providerNameEdit", "Provider name")
        self.kind_label = QLabel()
        name_widget(self.kind_label, "providerKindLabel", "Kind of server")
        self.base_url_edit = self._line_edit(QLineEdit(), "baseUrlEdit", "Server address")
        self.base_url_edit.setPlaceholderText("http://127.0.0.1:11434/v1")
        self.api_key_edit = self._line_edit(SecretLineEdit(), "apiKeyEdit", "API key")
        self.account_key_button = QPushButton("API Key…")
        name_widget(self.account_key_button, "accountKeyButton", "Change OpenAI's API key")
        self.account_key_button.clicked.connect(self.accountKeyRequested)
        self.key_note = report_label("providerKeyNote", "Where the key is kept")
        self.key_notice = report_label("providerKeyNotice", "Why a key is needed")
        self.input_price_edit = self._line_edit(QLineEdit(), "inputPriceEdit", "Input price")
        self.output_price_edit = self._line_edit(QLineEdit(), "outputPriceEdit", "Output price")
        self.input_price_edit.setPlaceholderText("input")
        self.output_price_edit.setPlaceholderText("output")
        self.environment_note = report_label("environmentNote", "Set by the environment")
        self.problem_labels = {
            "name": report_label("nameProblem", "What is wrong with the name"),
            "base_url": report_label("baseUrlProblem", "What is wrong with the address"),
            "prices": report_label("pricesProblem", "What is wrong with the prices"),
        }
        self._lay_out()

    def _line_edit(self, edit: QLineEdit, object_name: str, accessible: str) -> QLineEdit:
        name_widget(edit, object_name, accessible)
        return edit

    def _lay_out(self) -> None:
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.environment_note)
        form.addRow("Name:", self._with_problem(self.name_edit, "name"))
        form.addRow("Kind:", self.kind_label)
        form.addRow("Address:", self._with_problem(self.base_url_edit, "base_url"))
        key_row = QHBoxLayout()
        key_row.addWidget(self.api_key_edit, 1)
        key_row.addWidget(self.account_key_button)
        form.addRow("API key:", key_row)
        form.addRow(self.key_note)
        form.addRow(self.key_notice)
        prices = QWidget()
        price_row = QHBoxLayout(prices)
        price_row.setContentsMargins(0, 0, 0, 0)
        price_row.addWidget(self.input_price_edit)
        price_row.addWidget(self.output_price_edit)
        price_row.addWidget(QLabel("USD per million tokens"))
        form.addRow("Prices:", self._with_problem(prices, "prices"))
        hint = QLabel("Optional: what the provider charges, so that chats can show their cost.")
        hint.setWordWrap(True)
        form.addRow(hint)

    def _with_problem(self, field: QWidget, key: str) -> QWidget:
        cell = QWidget()
        column = QVBoxLayout(cell)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(field)
        column.addWidget(self.problem_labels[key])
        return cell

    # -- showing -----------------------------------------------------------------------------
    @property
    def shown(self) -> ProviderProfile | None:
        """The profile the fields were filled from."""
        return self._shown

    def show_profile(self, profile: ProviderProfile | None) -> None:
        """Fill the fields from ``profile`` (None: nothing selected, all disabled)."""
        self._shown = profile
        self.setEnabled(profile is not None)
        self.show_problems({})
        report(self.key_notice, "")
        self.api_key_edit.clear()
        if profile is None:
            for edit in (self.name_edit, self.base_url_edit):
                edit.clear()
            self.kind_label.clear()
            return
        self.name_edit.setText(profile.name)
        self.kind_label.setText(profile.preset.label)
        self.base_url_edit.setText(profile.base_url)
        prices = profile.prices
        self.input_price_edit.setText("" if prices is None else f"{prices.input_usd_per_million:g}")
        self.output_price_edit.setText(
            "" if prices is None else f"{prices.output_usd_per_million:g}"
        )
        is_fixed = profile.is_environment
        for edit in (
            self.name_edit,
            self.base_url_edit,
            self.input_price_edit,
            self.output_price_edit,
        ):
            edit.setReadOnly(is_fixed)
        is_account_key = profile.id == OPENAI_PROFILE_ID
        self.api_key_edit.setVisible(_has_own_key(profile))
        self.account_key_button.setVisible(is_account_key)
        report(self.environment_note, ENVIRONMENT_TEXT if is_fixed else "")
        report(self.key_note, ACCOUNT_KEY_TEXT if is_account_key else "")
        self.show_key_state(has_key=False)

    def show_key_state(self, *, has_key: bool) -> None:
        """Say in the empty key field whether a key is saved for the profile shown."""
        if self._shown is not None:
            self.api_key_edit.setPlaceholderText(key_placeholder(self._shown, has_key=has_key))

    def show_problems(self, problems: dict[str, str]) -> None:
        """Show each problem under its field, and clear the others."""
        for key, label in self.problem_labels.items():
            report(label, problems.get(key, ""), is_error=True)

    def ask_for_key(self, sentence: str) -> None:
        """Say why a key is needed, and put the cursor in the key field."""
        report(self.key_notice, sentence, is_error=True)
        self.api_key_edit.setFocus()

    def clear_key(self) -> None:
        """Forget the key typed (saved, or the window closes)."""
        self.api_key_edit.clear()

    # -- reading -----------------------------------------------------------------------------
    def entered(self) -> tuple[ProviderProfile | None, dict[str, str]]:
        """The profile as the fields hold it, and what cannot be used in them (by field)."""
        profile = self._shown
        if profile is None or profile.is_environment:
            return profile, {}
        prices, prices_problem = self._entered_prices()
        entered = replace(
            profile, name=self.name_edit.text(), base_url=self.base_url_edit.text(), prices=prices
        )
        problems = entered.problems()
        if prices_problem:
            problems["prices"] = prices_problem
        return entered, problems

    def entered_key(self) -> str | None:
        """The key typed, or None (keep the saved one)."""
        if self._shown is None or not _has_own_key(self._shown):
            return None
        return self.api_key_edit.text().strip() or None

    def _entered_prices(self) -> tuple[Prices | None, str]:
        texts = (self.input_price_edit.text().strip(), self.output_price_edit.text().strip())
        if not any(texts):
            return None, ""
        try:
            values = [float(text) for text in texts]
        except ValueError:
            return None, PRICES_PROBLEM
        if not all(math.isfinite(value) for value in values):
            return None, PRICES_PROBLEM
        return Prices(values[0], values[1]), ""
