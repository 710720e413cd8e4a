"""Post-loan reviews of performing loans, through the command line."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from conftest import AT, T0, Run, create_args, events, query, set_policy, snapshot

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores


def review_args(reference: str = "L-3001", *extra: str) -> list[str]:
    """A performing loan referred for review: nothing overdue, CNY 2,300 a month.

    ``extra`` options replace the defaults of the same name (an option is given once).
    """
    defaults = {
        "--installment": "2300.00", "--phone": "+86 139 0000 1111",
        "--note": "The bureau shows a new loan at another bank", "--assign": "li.na",
    }  # fmt: skip
    for option in extra[::2]:
        defaults.pop(option, None)
    return [
        "create", "--institution", "hx-consumer", "--reference", reference, "--name", "赵磊",
        "--principal", "50000.00", "--kind", "review", "--trigger", "new-loan-elsewhere",
        *(arg for pair in defaults.items() for arg in pair), *extra,
    ]  # fmt: skip


def second_supervisor(office: Run) -> None:
    result = office(
        "staff", "add", "wu.fang", "--name", "吴芳", "--role", "supervisor", as_="chen.wei"
    )
    assert result.exit_code == 0, result.output


def review_case(office: Run, *extra: str) -> str:
    result = office(*review_args("L-3001", *extra), "--json", "--at", T0, as_="chen.wei")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["id"])


def shown(office: Run, case: str, at: str = "2026-11-23T18:00+08:00") -> dict:
    result = office("show", case, "--json", "--at", at, as_="chen.wei")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def findings(office: Run, case: str, recommend: str, at: str = "2026-11-23T14:00+08:00") -> None:
    result = office(
        "feedback", case, "--recommend", recommend, "--summary", "New loan; income unchanged",
        "--at", at, as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "findings submitted" in result.output


def approve(office: Run, case: str, at: str = "2026-11-23T15:00+08:00") -> str:
    result = office("review", case, "--approve", "--at", at, as_="wu.fang")
    assert result.exit_code == 0, result.output
    return result.output


def test_a_review_runs_check_findings_approval_and_comes_round_on_schedule(office: Run) -> None:
    second_supervisor(office)
    case = review_case(office)
    data = shown(office, case)
    assert data["kind"] == "review" and data["stage"] == "confirmation"
    assert data["eligible"] is True and data["days_past_due"] == 0
    assert data["installment"] == "2300.00"
    assert [(r["trigger"], r["status"]) for r in data["reviews"]] == [
        ("new-loan-elsewhere", "open")
    ]

    # The check: a call and a soft bureau inquiry; then the findings, no visit needed.
    called = office(
        "contact", case, "--channel", "phone", "--target", "borrower", "--outcome", "reached",
        "--at", "2026-11-23T10:00+08:00", as_="li.na",
    )  # fmt: skip
    assert called.exit_code == 0, called.output
    asked = office(
        "inquiry", case, "--purpose", "post-loan-management", "--kind", "soft",
        "--at", "2026-11-23T10:30+08:00", as_="li.na",
    )  # fmt: skip
    assert asked.exit_code == 0, asked.output
    findings(office, case, "watch-list")
    assert shown(office, case)["stage"] == "feedback"

    # The one who submitted cannot approve; another supervisor closes the review.
    closed = approve(office, case)
    assert "review closed (watch-list, next review due 2026-12-23)" in closed
    data = shown(office, case)
    assert (data["stage"], data["resolution"], data["next_review"]) == (
        "closed",
        "reviewed",
        "2026-12-23",
    )
    review = data["reviews"][-1]
    assert (review["status"], review["recommendation"], review["next_review"]) == (
        "reviewed",
        "watch-list",
        "2026-12-23",
    )

    # Not due the day before (on the borrower's calendar), due on the day.
    early = office("reviews", "due", "--json", "--at", "2026-12-22T23:00+08:00")
    assert json.loads(early.output) == []
    due = office("reviews", "due", "--json", "--at", "2026-12-23T00:30+08:00")
    assert [row["case"] for row in json.loads(due.output)] == [int(case)]

    opened = office("reviews", "open", "--due", "--at", "2026-12-23T09:00+08:00", as_="chen.wei")
    assert opened.exit_code == 0, opened.output
    assert f"Case {case}: review 2 opened (scheduled)" in opened.output
    assert "1 review opened, 0 refused" in opened.output
    data = shown(office, case, "2026-12-23T10:00+08:00")
    assert (data["kind"], data["stage"], data["resolution"], data["next_review"]) == (
        "review",
        "confirmation",
        None,
        None,
    )
    again = office("reviews", "due", "--json", "--at", "2026-12-23T10:00+08:00")
    assert json.loads(again.output) == []


def test_cases_refused_in_a_json_run_are_said_on_stderr(office: Run) -> None:
    # Case 1 is an open collection case, so no review opens for it: the data on
    # stdout says why per case, and stderr says the run failed.
    office(*create_args("L-1002"), "--at", T0, as_="chen.wei")
    result = office("reviews", "open", "1", "2", "--trigger", "scheduled", "--json", *AT,
                    as_="chen.wei")  # fmt: skip
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["opened"] == [] and [r["case"] for r in data["refused"]] == ["1", "2"]
    assert "Refused: 2 of 2 not opened" in result.stderr


def test_refer_to_collection_makes_it_a_collection_case(office: Run, target: str) -> None:
    second_supervisor(office)
    case = review_case(office)
    confirmed = office("confirm", case, "--address", "上海市徐汇区", *AT, as_="li.na")
    assert confirmed.exit_code == 0, confirmed.output
    findings(office, case, "refer-to-collection")
    assert "now a collection case, in stage preparation" in approve(office, case)
    data = shown(office, case)
    assert (data["kind"], data["stage"], data["resolution"], data["feedback_status"]) == (
        "collection",
        "preparation",
        None,
        None,
    )
    assert data["reviews"][-1]["status"] == "referred"

    # From now on it is worked and judged as any collection case.
    wrong = office(
        "feedback", case, "--recommend", "watch-list", "--summary", "x",
        "--at", "2026-11-23T16:00+08:00", as_="li.na",
    )  # fmt: skip
    assert wrong.exit_code == 2
    assert "'watch-list' is not one of restructure" in wrong.output
    types = [e["type"] for e in events(target, int(case))]
    assert types == [
        "case_created",
        "address_confirmed",
        "feedback_submitted",
        "feedback_approved",
    ]


def test_a_recommendation_must_fit_the_kind_of_case(office: Run) -> None:
    case = review_case(office)
    wrong = office(
        "feedback", case, "--recommend", "restructure", "--summary", "x", *AT, as_="li.na"
    )
    assert wrong.exit_code == 2
    assert "'restructure' is not one of no-action, watch-list" in wrong.output
    assert "restructure-offer" in wrong.output
    # A collection case's findings still wait for its visit.
    early = office("feedback", "1", "--recommend", "close", "--summary", "x", *AT, as_="li.na")
    assert early.exit_code == 1
    assert "it is in stage confirmation; confirm the address first" in early.output


def test_only_approval_closes_a_review_as_reviewed(office: Run, target: str) -> None:
    case = review_case(office)
    before = snapshot(target)
    closed = office("close", case, "--resolution", "reviewed", *AT, as_="chen.wei")
    assert closed.exit_code == 2
    assert "closes as reviewed when a supervisor approves its findings" in closed.output
    assert snapshot(target) == before
    # Withdrawn by a supervisor, the review ends with it.
    withdrawn = office("close", case, "--resolution", "withdrawn", *AT, as_="chen.wei")
    assert withdrawn.exit_code == 0, withdrawn.output
    assert shown(office, case)["reviews"][-1]["status"] == "withdrawn"


def test_opening_a_review_is_a_supervisors_call_on_a_closed_case(office: Run, target: str) -> None:
    # Case 1 is an open collection case.
    field = office("reviews", "open", "1", "--trigger", "cash-withdrawal", *AT, as_="li.na")
    assert field.exit_code == 1
    assert "only a supervisor may open a review" in field.output
    still_open = office("reviews", "open", "1", "--trigger", "cash-withdrawal", *AT, as_="chen.wei")
    assert still_open.exit_code == 1
    assert "cannot open a review of case 1: it is in stage confirmation" in still_open.output
    refused = [json.loads(e["payload"])["data"] for e in events(target, 1)][-2:]
    assert [r["reasons"][0]["rule"] for r in refused] == [
        "permission.supervisor",
        "stage.open_review",
    ]
    no_trigger = office("reviews", "open", "1", *AT, as_="chen.wei")
    assert no_trigger.exit_code == 2 and "--trigger" in no_trigger.output


def test_no_penalty_accrues_while_a_loan_is_under_review(office: Run) -> None:
    _paid_loan_under_review(office)
    penalty = functools.partial(_penalty, office, "2")
    assert penalty("2026-11-23T12:00+08:00") == penalty("2027-02-01T12:00+08:00")
    assert shown(office, "2")["days_past_due"] == 69  # the overdue is still on record


def test_offers_on_a_performing_loan_are_built_on_the_installments_due(office: Run) -> None:
    case = review_case(office)
    set_policy(
        office, "hx-consumer", "review_offer_installments=2", "offers.installment_periods=[]"
    )
    result = office("offers", case, "--json", *AT, as_="li.na")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # Two installments of 2,300, not the 50,000 of principal.
    assert (data["balance"], data["basis"]) == ("4600.00", "2 installments due")
    extension = next(o for o in data["offers"] if o["kind"] == "extension")
    assert extension["total_payable"] == "4600.00"

    bare = office(
        "create", "--institution", "hx-consumer", "--reference", "L-3002", "--name", "钱多",
        "--principal", "10000", "--kind", "review", "--trigger", "limit-increase",
        "--assign", "li.na", "--at", T0, as_="chen.wei",
    )  # fmt: skip
    assert bare.exit_code == 0, bare.output
    refused = office("offers", "3", *AT, as_="li.na")
    assert refused.exit_code == 2
    assert "without an installment amount" in refused.output


def test_create_says_what_a_review_and_a_collection_case_need(office: Run, target: str) -> None:
    before = snapshot(target)
    no_trigger = office(
        "create", "--institution", "hx-consumer", "--reference", "L-9", "--name", "x",
        "--principal", "100", "--kind", "review", *AT, as_="chen.wei",
    )  # fmt: skip
    assert no_trigger.exit_code == 2 and "a review needs --trigger" in no_trigger.output
    no_overdue = office(
        "create", "--institution", "hx-consumer", "--reference", "L-9", "--name", "x",
        "--principal", "100", *AT, as_="chen.wei",
    )  # fmt: skip
    assert no_overdue.exit_code == 2
    assert "--overdue and --overdue-since are required" in no_overdue.output
    nowhere = office(*review_args("L-9", "--timezone", "Mars/Olympus"), *AT, as_="chen.wei")
    # A clear error (exit 2), not a crash (an uncaught time-zone error exits 1).
    assert nowhere.exit_code == 2 and "Mars/Olympus" in nowhere.output
    zero = office(*review_args("L-9", "--installment", "0"), *AT, as_="chen.wei")
    assert zero.exit_code == 2 and "must be more than zero" in zero.output
    assert snapshot(target) == before


def test_a_review_is_left_out_of_the_visit_eligibility_rules(office: Run, target: str) -> None:
    set_policy(office, "hx-consumer", "min_days_past_due=30")
    case = review_case(office)
    assert shown(office, case)["eligible"] is True
    kinds = {r["reference"]: r["kind"] for r in query(target, "SELECT reference, kind FROM cases")}
    assert kinds == {"L-1001": "collection", "L-3001": "review"}


def test_an_institutions_file_refers_performing_loans_for_review(
    office: Run, target: str, tmp_path: Path
) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text(
        "reference,borrower_name,principal,kind,trigger,installment,overdue_amount\n"
        "R-1,周强,80000,review,scheduled,3500,\n"
        "R-2,吴敏,12000,review,,800,\n"
        "R-3,郑华,9000,review,card-swipe,,\n"
        "R-4,孙丽,5000,collection,,,1200\n"
        "L-1001,王芳,20000,review,scheduled,,\n",
        encoding="utf-8",
    )
    result = office(
        "import", str(path), "--institution", "hx-consumer", "--json", *AT, as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["imported"], summary["rejected"]) == (1, 4)
    rejects = (tmp_path / "reviews.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[1].startswith('3,trigger,,"is required for a review: one of scheduled,')
    assert rejects[2].startswith('4,trigger,card-swipe,"is not a review trigger')
    assert rejects[3].startswith("5,overdue_since,,is required")
    assert rejects[4].startswith('6,kind,review,"case 1 is a collection case')

    found = query(
        target,
        "SELECT id, kind, installment_minor, overdue_minor, eligible FROM cases"
        " WHERE reference = 'R-1'",
    )
    row = tuple(found[0])
    opened = [tuple(r) for r in query(target, "SELECT case_id, trigger, status FROM reviews")]
    assert row[1:] == ("review", 350000, 0, 1)
    assert opened == [(row[0], "scheduled", "open")]
    again = office("import", str(path), "--institution", "hx-consumer", "--json", *AT,
                   as_="chen.wei")  # fmt: skip
    assert json.loads(again.stdout)["imported"] == 0


def test_a_kept_concession_on_a_performing_loan_lets_off_only_its_saving(office: Run) -> None:
    second_supervisor(office)
    case = review_case(office)
    set_policy(office, "hx-consumer", "review_offer_installments=2", "approval_threshold_share=1")
    presented = office("offers", case, "--json", *AT, as_="li.na")
    assert presented.exit_code == 0, presented.output
    settlement = next(
        o for o in json.loads(presented.output)["offers"] if o["code"] == "settlement"
    )
    assert settlement["total_payable"] == "3680.00"  # 20% off 4,600 due, not off 50,000
    accepted = office("accept", case, "settlement", "--at", "2026-11-23T12:10+08:00", as_="li.na")
    assert accepted.exit_code == 0, accepted.output
    paid = office(
        "payment", case, "3680.00", "--reference", "TX-1",
        "--at", "2026-11-24T10:00+08:00", as_="li.na",
    )  # fmt: skip
    assert paid.exit_code == 0, paid.output
    # Reported by the field worker, the money counts once a supervisor confirms it.
    confirmed = office(
        "payment", "confirm", case, "TX-1", "--at", "2026-11-24T10:30+08:00", as_="chen.wei"
    )
    assert confirmed.exit_code == 0, confirmed.output
    result = office("balance", case, "--json", "--at", "2026-11-25T10:00+08:00", as_="chen.wei")
    balance = json.loads(result.output)["balance"]
    assert (balance["total"], balance["forgiven"]) == ("45400.00", "920.00")
    data = shown(office, case, "2026-11-25T10:00+08:00")
    assert (data["stage"], data["resolution"]) == ("confirmation", None)  # the loan goes on


def test_reviews_are_not_past_due_in_the_worklist_buckets_or_pipeline(office: Run) -> None:
    # Seven loans referred for review long ago: nothing overdue, so 0 days past due,
    # however long ago they came; they must not crowd out a case 69 days past due.
    for n in range(7):
        created = office(
            *review_args(f"L-40{n}"), "--at", f"2026-01-1{n}T09:00+08:00", as_="chen.wei"
        )
        assert created.exit_code == 0, created.output
    top = office("cases", "--limit", "1", "--json", *AT, as_="chen.wei")
    assert top.exit_code == 0, top.output
    assert [row["id"] for row in json.loads(top.output)] == [1]
    old = office("cases", "--bucket", "181+", "--json", *AT, as_="chen.wei")
    assert json.loads(old.output) == []
    reviews = office("cases", "--kind", "review", "--json", *AT, as_="chen.wei")
    assert {row["dpd"] for row in json.loads(reviews.output)} == {0}
    assert len(json.loads(reviews.output)) == 7
    pipeline = office("report", "pipeline", "--format", "json", "--to", AT[1], as_="chen.wei")
    rows = {row["stage"]: row for row in json.loads(pipeline.output)}
    assert (rows["confirmation"]["current"], rows["confirmation"]["_61_90"]) == (7, 1)


# -- attacks: what a careless or dishonest hand could do with a review ------------------


def test_a_concession_agreed_on_a_review_still_lets_off_only_its_saving_once_in_collection(
    office: Run,
) -> None:
    # A settlement worked out on two installments due (4,600 for 3,680), then the loan
    # goes to collection: paid, it must not write off the other 45,400 of the loan.
    second_supervisor(office)
    case = review_case(office)
    set_policy(office, "hx-consumer", "review_offer_installments=2", "approval_threshold_share=1")
    assert office("offers", case, *AT, as_="li.na").exit_code == 0
    accepted = office("accept", case, "settlement", "--at", "2026-11-23T12:10+08:00", as_="li.na")
    assert accepted.exit_code == 0, accepted.output
    findings(office, case, "refer-to-collection")
    approve(office, case)
    paid = office(
        "payment", case, "3680.00", "--reference", "TX-1",
        "--at", "2026-11-24T10:00+08:00", as_="li.na",
    )  # fmt: skip
    assert paid.exit_code == 0, paid.output
    # Reported by the field worker, the money counts once a supervisor confirms it.
    confirmed = office(
        "payment", "confirm", case, "TX-1", "--at", "2026-11-24T10:30+08:00", as_="chen.wei"
    )
    assert confirmed.exit_code == 0, confirmed.output
    result = office("balance", case, "--json", "--at", "2026-11-25T10:00+08:00", as_="chen.wei")
    balance = json.loads(result.output)["balance"]
    assert (balance["total"], balance["forgiven"]) == ("45400.00", "920.00")
    data = shown(office, case, "2026-11-25T10:00+08:00")
    assert (data["kind"], data["stage"], data["resolution"]) == ("collection", "confirmation", None)


def _paid_loan_under_review(office: Run) -> None:
    """Case 2: CNY 3,000 overdue since 2026-09-15 at 18%, closed as paid, then under review."""
    created = office(
        *create_args("L-2002", overdue="3000.00", **{"penalty-rate": "0.18"}),
        "--assign", "li.na", "--at", T0, as_="chen.wei",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    closed = office(
        "close", "2", "--resolution", "paid", "--at", "2026-11-23T10:00+08:00",
        as_="chen.wei",
    )  # fmt: skip
    assert closed.exit_code == 0, closed.output
    opened = office(
        "reviews", "open", "2", "--trigger", "installment-request", "--installment", "1200",
        "--at", "2026-11-23T11:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert opened.exit_code == 0, opened.output


def _overdue_loan_reviewed(office: Run) -> None:
    """Case 2, its review closed with no action."""
    second_supervisor(office)
    _paid_loan_under_review(office)
    findings(office, "2", "no-action")
    approve(office, "2")


def _penalty(office: Run, case: str, at: str) -> str:
    result = office("balance", case, "--json", "--at", at, as_="chen.wei")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["balance"]["penalty"]


def test_an_earlier_review_does_not_spare_a_loan_in_collection_its_penalty(office: Run) -> None:
    _overdue_loan_reviewed(office)
    reopened = office(
        "reviews", "open", "2", "--trigger", "overdue", "--at", "2026-12-01T09:00+08:00",
        as_="chen.wei",
    )  # fmt: skip
    assert reopened.exit_code == 0, reopened.output
    findings(office, "2", "refer-to-collection", at="2026-12-01T10:00+08:00")
    approve(office, "2", at="2026-12-01T11:00+08:00")
    assert shown(office, "2", "2026-12-01T12:00+08:00")["kind"] == "collection"
    # In collection from 1 December: 3,000 x 18% / 365 a day, from that day on.
    assert _penalty(office, "2", "2026-12-11T12:00+08:00") != _penalty(
        office, "2", "2026-12-01T12:00+08:00"
    )


def test_reopen_does_not_restart_a_review_without_its_record(office: Run) -> None:
    # 'reopen' on a reviewed loan would make it an open review case with no review in
    # progress: its findings would close it again as reviewed with nothing recorded.
    second_supervisor(office)
    case = review_case(office)
    findings(office, case, "no-action")
    approve(office, case)
    reopened = office(
        "reopen", case, "--reason", "Look again", "--at", "2026-11-24T09:00+08:00", as_="chen.wei"
    )
    assert reopened.exit_code == 1
    assert f"fieldcase reviews open {case}" in reopened.output
    data = shown(office, case, "2026-11-24T10:00+08:00")
    assert (data["stage"], data["resolution"]) == ("closed", "reviewed")


def test_a_field_worker_cannot_end_a_review_by_closing_it(office: Run) -> None:
    # Closed as unlocatable from the check, the review would end with no findings, no
    # second pair of eyes and no next review: the loan would drop off the schedule.
    case = review_case(office)
    closed = office("close", case, "--resolution", "unlocatable", *AT, as_="li.na")
    assert closed.exit_code == 1
    assert "only a supervisor may" in closed.output
    data = shown(office, case)
    assert (data["stage"], data["reviews"][-1]["status"]) == ("confirmation", "open")


def test_a_dispute_upheld_and_closed_ends_the_review_too(office: Run) -> None:
    second_supervisor(office)
    case = review_case(office)
    opened = office(
        "dispute", "open", case, "--kind", "fraud", "--note", "Not my loan", *AT, as_="li.na"
    )
    assert opened.exit_code == 0, opened.output
    decided = office(
        "dispute", "decide", case, "--uphold", "--close", "--note", "Identity theft",
        "--at", "2026-11-23T13:00+08:00", as_="wu.fang",
    )  # fmt: skip
    assert decided.exit_code == 0, decided.output
    data = shown(office, case)
    assert (data["stage"], data["resolution"]) == ("closed", "dispute-upheld")
    assert data["reviews"][-1]["status"] == "withdrawn"


def test_only_a_performing_loan_is_put_under_review(office: Run, target: str) -> None:
    # A loan sent to court is not performing: a review would stop its penalty interest.
    closed = office(
        "close", "1", "--resolution", "withdrawn", "--at", "2026-11-23T10:00+08:00",
        as_="chen.wei",
    )  # fmt: skip
    assert closed.exit_code == 0, closed.output
    before = snapshot(target)
    refused = office(
        "reviews", "open", "1", "--trigger", "scheduled", "--at", "2026-11-23T11:00+08:00",
        as_="chen.wei",
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "case 1 was closed as withdrawn: its loan is not performing" in refused.output
    assert "review.performing" in refused.output
    after = snapshot(target)
    assert {t: rows for t, rows in after.items() if t != "events"} == {
        t: rows for t, rows in before.items() if t != "events"
    }
    assert [e["type"] for e in events(target, 1)][-1] == "refused"


def test_a_loan_referred_with_nothing_overdue_is_not_past_due_yet(office: Run) -> None:
    second_supervisor(office)
    case = review_case(office)  # referred for review on 2026-11-23
    findings(office, case, "refer-to-collection", at="2027-02-01T10:00+08:00")
    approve(office, case, at="2027-02-01T15:00+08:00")
    data = shown(office, case, "2027-02-01T18:00+08:00")
    assert (data["kind"], data["days_past_due"], data["overdue_since"]) == (
        "collection",
        0,
        "2027-02-01",
    )


def test_a_purged_loan_never_comes_round_for_review(office: Run, target: str) -> None:
    second_supervisor(office)
    case = review_case(office)
    findings(office, case, "no-action")
    approve(office, case)  # next review due 2027-02-23
    done = office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert done.exit_code == 0, done.output
    assert shown(office, case, "2031-12-01T01:00+08:00")["purged_at"] is not None
    due = office("reviews", "due", "--json", "--at", "2031-12-01T01:00+08:00")
    assert json.loads(due.output) == []
    before = snapshot(target)
    refused = office(
        "reviews", "open", case, "--trigger", "scheduled", "--at", "2031-12-01T02:00+08:00",
        as_="chen.wei",
    )  # fmt: skip
    assert refused.exit_code == 2 and "was purged" in refused.output
    assert snapshot(target) == before


def test_a_loan_paid_then_reviewed_owes_nothing_for_the_days_between(office: Run) -> None:
    """Paid in full and closed; reviewed a month later: no penalty for that month."""
    created = office(*create_args("L-2001", **{"penalty-rate": "18%"}), "--at", T0, as_="chen.wei")
    assert created.exit_code == 0, created.output
    paid_at = "2026-11-24T10:00+08:00"
    owed = json.loads(office("balance", "2", "--json", "--at", paid_at, as_="chen.wei").output)
    total = owed["balance"]["total"]
    assert owed["balance"]["penalty"] != "0.00"
    result = office("payment", "2", total, "--reference", "BOC-1", "--at", paid_at, as_="chen.wei")
    assert result.exit_code == 0, result.output
    assert "closed as paid" in result.output
    reviewed = office(
        "reviews", "open", "2", "--trigger", "scheduled", "--installment", "1500",
        "--at", "2026-12-24T09:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert reviewed.exit_code == 0, reviewed.output
    later = office("balance", "2", "--json", "--at", "2027-01-10T09:00+08:00", as_="chen.wei")
    balance = json.loads(later.output)["balance"]
    assert (balance["penalty"], balance["total"]) == ("0.00", "0.00"), balance
