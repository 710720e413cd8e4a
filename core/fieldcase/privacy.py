"""Masking of personal data in what leaves fieldcase (exports, lists)."""

from __future__ import annotations

MASK = "*"


def mask_tail(value: str | None, keep: int = 4) -> str:
    """``'310101199001011234'`` -> ``'**************1234'``: only the last digits stay."""
    if not value:
        return ""
    if len(value) <= keep:
        return MASK * len(value)
    return MASK * (len(value) - keep) + value[-keep:]


def mask_phone(value: str | None) -> str:
    """``'+8613800138000'`` -> ``'+86*******8000'``: country code and last four digits."""
    if not value:
        return ""
    if value.startswith("+"):
        from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

        # Country codes are prefix-free: the first known 1-3 digit prefix is it.
        for width in (1, 2, 3):
            prefix = value[1 : 1 + width]
            if prefix.isdigit() and int(prefix) in COUNTRY_CODE_TO_REGION_CODE:
                head = value[: 1 + width]
                return head + mask_tail(value[len(head) :])
    return mask_tail(value)


def mask_text(value: str | None) -> str:
    """Free text about third parties: withheld whole when masked."""
    return "[masked]" if value else ""
