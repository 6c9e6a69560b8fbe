"""The audit trail: who changed what, when, through which way in and from which address, kept in
django-auditlog's LogEntry (field-level before/after, actor, address, additional data, a full snapshot for each
task version), and the versions of each task read back from it. The services and a few signals write it; the
pages, the API and the admin read it."""
