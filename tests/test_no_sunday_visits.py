"""A plugin under test, registered for the test: no visit planned on a Sunday."""

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Decision
from fieldcase.testing import OfficeFactory, RegisterPlugin


class NoSundayVisits:
    """No visit planned on a Sunday, the borrower's local date."""

    @hookimpl
    def check_action(self, action: str, context: ActionContext) -> Decision | None:
        if action == "plan_visit" and context.window and context.window[0].weekday() == 6:
            return Decision.deny("acme.sunday", "no field visits on Sundays")
        return None


def test_no_visit_is_planned_on_a_sunday(
    fieldcase_office: OfficeFactory, register_plugin: RegisterPlugin
) -> None:
    register_plugin(NoSundayVisits(), name="no-sundays")
    office = fieldcase_office(plugins=[], settings={"require_plugins": "no-sundays"})
    case = office.case_at("preparation")

    result = office("plan", case, "--date", "2026-11-29", "--window", "10:00-12:00", at="11:00")

    assert result.exit_code == 1
    assert "no field visits on Sundays (rule acme.sunday)" in result.stderr
