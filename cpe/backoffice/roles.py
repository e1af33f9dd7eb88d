"""Staff roles as groups with least privilege (rules R0.1). Each later issue adds
the permissions of its own models here."""

ROLES = {
    "operator": ("运营人员", [
        "accounts.view_user", "accounts.set_correction_hold", "accounts.view_loginrecord",
        "agreements.view_agreementversion", "agreements.add_agreementversion",
        "notices.view_outboundmessage",
        "notices.view_announcement", "notices.add_announcement", "notices.change_announcement",
        "moderation.view_learneraccount", "moderation.terminate_learneraccount", "moderation.ban_learneraccount",
        "moderation.view_ban", "moderation.add_ban", "moderation.change_ban",  # change_ban = lift a ban
        "learning.view_suspiciousevent", "learning.view_playsession", "learning.view_chapterprogress",
        "reporting.view_aisexchange", "reporting.view_aisperson",
        "reporting.view_aisreport", "reporting.retry_aisreport", "reporting.reconcile_aisreport",
        "reporting.view_exportjob", "reporting.add_exportjob", "reporting.export_results",
        "credits.view_creditrecord", "credits.view_certificate",
        "support.view_faqentry", "support.add_faqentry", "support.change_faqentry", "support.delete_faqentry",
        "support.view_thread", "support.change_thread", "support.view_message",
    ]),
    "content_editor": ("内容编辑", [
        "agreements.view_agreementversion",
        # Courses and chapters; years and products only to read (their prices and rules are finance's).
        "catalog.view_trainingyear", "catalog.view_product",
        *[f"catalog.{op}_{m}" for m in ("course", "chapter") for op in ("view", "add", "change")],
        "learning.view_chaptervideo", "learning.add_chaptervideo", "learning.change_chaptervideo",
        "exams.view_question", "exams.add_question", "exams.change_question",
    ]),
    "finance": ("财务人员", [
        "accounts.view_user", "orders.view_order", "orders.view_paymentnotification",
        "orders.view_refund", "orders.change_refund", "invoicing.view_invoice",
        # What is sold at what price, and what a year requires (catalog.services audits each change).
        *[f"catalog.{op}_{m}" for m in ("trainingyear", "product") for op in ("view", "add", "change")],
        "catalog.set_price", "catalog.set_year_rules",
    ]),
    "reviewer": ("审核人员", [
        "accounts.view_user", "accounts.review_identity", "accounts.view_identity",  # sees what it approves
        "accounts.view_identitychangerequest", "accounts.change_identitychangerequest",
    ]),
    "auditor": ("审计人员", [
        "core.view_auditevent", "agreements.view_agreementacceptance", "agreements.view_agreementversion",
        "notices.view_announcement", "moderation.view_learneraccount", "moderation.view_ban",
        "accounts.view_loginrecord", "accounts.view_user", "accounts.view_identitychangerequest",
        "orders.view_order", "orders.view_paymentnotification", "orders.view_refund", "invoicing.view_invoice",
        "learning.view_suspiciousevent", "learning.view_playsession", "learning.view_chapterprogress",
        "reporting.view_aisexchange", "reporting.view_aisperson",
        "reporting.view_aisreport", "reporting.reconcile_aisreport", "reporting.view_exportjob",
        "exams.view_question", "exams.view_attempt", "credits.view_creditrecord", "credits.view_certificate",
        "support.view_faqentry", "support.view_thread", "support.view_message",
    ]),
}
