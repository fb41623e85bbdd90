"""The reporter's token: fixed for a report and a secret, and useless for anything else."""

from __future__ import annotations

import pytest

from gridloop_common.reporter_tokens import ReporterTokens

TOKENS = ReporterTokens("test-secret")


def test_a_reports_token_is_fixed_by_the_report_and_the_secret() -> None:
    # Fixed values: intake, dispatch and notify must derive the same token in other processes.
    assert TOKENS.for_report("R-1") == "TYFZEGN3ZU5F"
    assert TOKENS.for_report("R-2") == "HUSSX4BQ2DJJ"
    assert ReporterTokens("other-secret").for_report("R-1") == "UFBIEMVP7ZZE"


def test_a_token_matches_its_report_however_it_was_typed() -> None:
    assert TOKENS.matches("R-1", "TYFZEGN3ZU5F")
    assert TOKENS.matches("R-1", "tyfz egn3 zu5f")


@pytest.mark.parametrize("presented", ["HUSSX4BQ2DJJ", "UFBIEMVP7ZZE", "TYFZEGN3ZU5", "", None])
def test_another_reports_token_a_wrong_secrets_or_none_does_not_match(
    presented: str | None,
) -> None:
    assert not TOKENS.matches("R-1", presented)


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="REPORTER_TOKEN_SECRET"):
        ReporterTokens("")
