"""The CLI's tables (rich): plain, parseable text when stdout is not a terminal."""

from __future__ import annotations

import pytest

from appliance.cli.common import print_table


def test_a_table_is_plain_text_columns_two_spaces_apart(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    print_table([("ds_1", "PENDING_REVIEW", 3), ("ds_22222", "APPROVED", None)],
                ("ID", "STATE", "ROWS"))
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["ID        STATE           ROWS",
                     "--------- --------------- ----",
                     "ds_1      PENDING_REVIEW  3",
                     "ds_22222  APPROVED        None"]


def test_values_are_printed_as_given_never_styled_wrapped_or_cut(
        capsys: pytest.CaptureFixture[str]) -> None:
    name = "[bold red]tickets[/] :smile: " + "x" * 500
    print_table([("ds_1", name)], ("ID", "NAME"))
    out = capsys.readouterr().out
    assert "\x1b" not in out  # no escape codes into a pipe
    assert out.splitlines()[2] == f"ds_1  {name}"


def test_an_empty_table_still_has_its_headers(capsys: pytest.CaptureFixture[str]) -> None:
    print_table([], ("ID", "STATE"))
    assert capsys.readouterr().out.splitlines() == ["ID  STATE", "--- -----"]
