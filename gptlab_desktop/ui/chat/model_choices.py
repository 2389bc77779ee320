"""What the chat header's model picker offers: every provider's models, in words.

``Providers.all_models`` answers with each profile's models, or why they could not be listed;
this module turns that into the picker's rows — a provider's models under its name ("Ollama ·
llama3.2 · 8k", with the context window where it is known), and a row saying why a provider's
models are missing — and reads back what the user typed into the picker. No Qt here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gptlab_desktop.preferences import ProviderKind
from gptlab_desktop.services.model_catalog import model_facts
from gptlab_desktop.services.providers import ProviderModels, short_model_name

SEPARATOR = " · "


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """One row of the picker: a model of a provider, or (``model`` empty) why there is none."""

    profile_id: str
    provider_name: str
    model: str
    label: str
    problem: str = ""

    @property
    def is_choosable(self) -> bool:
        """Whether the row names a model (a problem row only explains)."""
        return bool(self.model)


def window_text(tokens: int) -> str:
    """A context window in few characters: 8192 → "8k", 128000 → "128k", 1048576 → "1M"."""
    if tokens >= 1_000_000:
        return f"{round(tokens / 1_000_000, 1):g}M"
    kilo, rest = divmod(tokens, 1024)
    if not rest and kilo and kilo & (kilo - 1) == 0:
        return f"{kilo}k"  # a power of two, as servers are configured: 8192, 32768, 131072
    if tokens >= 1000:
        return f"{tokens // 1000}k"  # written in thousands: 128000, 200000, 40960 ("40k")
    return str(tokens)


def model_label(provider_name: str, model: str, window: int | None = None) -> str:
    """How a model of a provider is named in the picker: "Ollama · llama3.2 · 8k"."""
    parts = [provider_name, short_model_name(model)]
    if window:
        parts.append(window_text(window))
    return SEPARATOR.join(parts)


def _known_window(listing: ProviderModels, model: str) -> int | None:
    """The context window the server listed, or the catalog's for a model it knows by name
    on OpenAI's own API; None where nothing is known (no guess is shown)."""
    listed = listing.models.context_windows.get(model)
    if listed:
        return listed
    facts = model_facts(model)
    if listing.profile.kind is ProviderKind.OPENAI and facts.id is not None:
        return facts.context_window
    return None


def model_choices(listings: Sequence[ProviderModels]) -> list[ModelChoice]:
    """The picker's rows, provider by provider: its models, or one row saying why it has none.

    A provider that could not be asked lists no models here (the built-in list it falls back
    to names OpenAI's, which another server does not serve): its row gives the reason.
    """
    rows: list[ModelChoice] = []
    for listing in listings:
        profile = listing.profile
        if listing.problem:
            rows.append(
                ModelChoice(
                    profile.id,
                    profile.name,
                    "",
                    f"{profile.name} — models could not be listed: {listing.problem}",
                    listing.problem,
                )
            )
            continue
        for model in listing.models.models:
            label = model_label(profile.name, model, _known_window(listing, model))
            rows.append(ModelChoice(profile.id, profile.name, model, label))
    return rows


def read_typed_choice(
    text: str,
    choices: Sequence[ModelChoice],
    providers: Sequence[tuple[str, str]],
    current_profile_id: str,
) -> tuple[str, str] | None:
    """The (profile id, model) the user typed into the picker, or None for nothing usable.

    A row's own label picks that row; "Provider · model" names a model of that provider (by
    its name, ``providers`` being (id, name) pairs); a bare name is a model of the chat's own
    provider (``current_profile_id``): any server may serve models it does not list.
    """
    typed = text.strip()
    if not typed:
        return None
    for choice in choices:
        if choice.is_choosable and choice.label == typed:
            return choice.profile_id, choice.model
    head, separator, rest = typed.partition(SEPARATOR.strip())
    if separator:
        by_name = {name.casefold(): profile_id for profile_id, name in providers}
        profile_id = by_name.get(head.strip().casefold())
        model = rest.strip()
        if profile_id is not None and model:
            # A label's window ("· 8k") is not part of the model's name.
            named = model.partition(SEPARATOR)[0].strip()
            return profile_id, _listed_name(named, profile_id, choices)
    return current_profile_id, _listed_name(typed, current_profile_id, choices)


def _listed_name(typed: str, profile_id: str, choices: Sequence[ModelChoice]) -> str:
    """The full name of a listed model the user typed by its short name (a file's path)."""
    for choice in choices:
        is_theirs = choice.profile_id == profile_id and choice.is_choosable
        if is_theirs and short_model_name(choice.model) == typed:
            return choice.model
    return typed
