"""What credits asks of the apps above it, without importing them (docs/architecture.md): each
hook is filled by the higher app's AppConfig.ready() (cpe.core.hooks). reporting, which reports
the credit records to the AIS, fills all four."""

from cpe.core.hooks import Hook

# fn(record), inside the transaction that created the record: the AIS outbox row (rules R9.1).
record_created = Hook("credits.record_created")
# fn(record), inside the transaction that revoked the record: the AIS reversal (rules R9.3).
record_revoked = Hook("credits.record_revoked")
# fn(record_ids) -> {record id: sent_at} of the records the AIS acknowledged (certificates).
acknowledged = Hook("credits.acknowledged", single=True)
# fn(user) -> {record id: (label, receipt_no)}: each record's AIS report state (我的学时).
report_states = Hook("credits.report_states", single=True)
