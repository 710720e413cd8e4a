"""The tables of a fieldcase database, named once for the store and both schemas."""

#: Tables rebuilt from the event log, in the order rows are applied.
STATE_TABLES = (
    "institutions",
    "policy_versions",
    "staff",
    "cases",
    "contacts",
    "visits",
    "feedback",
    "offers",
    "promises",
    "payments",
    "disputes",
    "evidence",
    "hardships",
    "complaints",
    "credit_corrections",
    "contact_details",
    "inquiries",
    "reviews",
    "event_corrections",
    "attachments",
    "checkins",
    "synced_actions",
    "sync_conflicts",
    "voided_rows",
)

#: Those of them keyed by text (a staff member's id, an institution's); the others'
#: ids are numbers.
TEXT_KEYED = ("institutions", "staff")


#: An event's stored columns, in the order they are copied.
EVENT_COLUMNS = (
    "id",
    "case_id",
    "chain",
    "type",
    "actor",
    "at",
    "payload",
    "prev_hash",
    "hash",
    "payload_sha256",
    "recorded_at",
    "policy_version",
)
