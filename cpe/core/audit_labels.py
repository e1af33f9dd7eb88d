"""What each audit event code means, in the words the staff site shows (审计日志). One table for
every code the platform writes; cpe/core/tests/test_audit_labels.py fails when a call to
audit_record writes a code that is not here."""

EVENT_LABELS = {
    # accounts
    "account.registered": "学员注册",
    "account.login": "登录",
    "account.login_refused": "登录被拒绝",
    "account.password_changed": "修改密码",
    "account.password_reset": "找回密码（重设）",
    "account.profile_updated": "修改个人资料",
    "account.mobile_changed": "更换手机号码",
    "account.email_changed": "更换电子邮箱",
    "account.email_verified": "验证电子邮箱",
    "account.identity_viewed": "工作人员查看完整身份信息",
    "staff.second_factor_enrolled": "工作人员启用两步验证",
    "staff.second_factor_reset": "重置工作人员的两步验证",
    "staff.recovery_code_used": "工作人员使用恢复码登录",
    "staff.recovery_codes_renewed": "工作人员重新生成恢复码",
    "account.correction_hold_set": "设置“待更正”",
    "account.correction_hold_cleared": "解除“待更正”",
    "account.minor_approved": "通过未成年自立声明",
    "account.minor_rejected": "驳回未成年自立声明",
    "account.terminated": "终止服务",
    "account.restored": "恢复账号",
    "account.closed": "注销账号",
    "account.archive_purged": "删除注销账号档案",
    "account.personal_data_exported": "导出个人信息副本",
    "identity_change.requested": "申请变更姓名/身份证号码",
    "identity_change.approved": "批准姓名/身份证号码变更",
    "identity_change.rejected": "驳回姓名/身份证号码变更",
    "identity_change.document_viewed": "工作人员查看身份证照片",
    "privacy.transfer": "个人信息对外提供",
    # agreements
    "agreement.published": "发布用户协议版本",
    "agreement.accepted": "同意用户协议",
    "agreement.declined": "不同意用户协议",
    # catalog
    "catalog.product_created": "新增商品",
    "catalog.product_changed": "修改商品（价格等）",
    "catalog.year_created": "新增培训年度",
    "catalog.year_changed": "修改培训年度规则",
    # orders and refunds
    "order.created": "下单",
    "order.paid": "支付成功",
    "order.closed": "订单关闭",
    "payment.unmatched": "收到无法匹配的付款",
    "refund.requested": "申请退款",
    "refund.approved": "批准退款",
    "refund.rejected": "驳回退款",
    "refund.succeeded": "退款成功",
    "refund.failed": "退款失败",
    # invoicing
    "invoice.issued": "开具发票",
    "invoice.reversed": "红冲发票",
    "invoice.pdf_viewed_by_staff": "工作人员查看发票 PDF",
    # learning, exams, credits
    "learning.chapter_completed": "学完章节",
    "learning.play_revoked": "撤销播放授权",
    "learning.video_ready": "视频转码完成",
    "exam.started": "开始考试",
    "exam.graded": "考试评分",
    "exams.bank_imported": "导入题库",
    "credit.recorded": "记载学时",
    "credit.revoked": "撤销学时",
    "certificate.issued": "签发学时证明",
    "certificate.revoked": "撤销学时证明",
    "credits.public_query": "公众查询学时",
    "credits.name_check": "证书核验：核对持证人姓名",
    # reporting to the AIS
    "ais.person_checked": "AIS 人员核验",
    "ais.reconciled": "AIS 对账",
    "ais.report_queued": "学时上报排队",
    "ais.report_released": "学时上报放行（人员已纳入）",
    "ais.report_sent": "学时上报成功",
    "ais.report_failed": "学时上报失败",
    "ais.report_retry": "重试学时上报",
    "ais.report_cancelled": "取消学时上报",
    "reporting.export_requested": "发起年度学时导出",
    "reporting.export_downloaded": "下载年度学时导出文件",
    "reporting.export_expired": "删除到期的导出文件",
    # notices, moderation, support
    "announcement.saved": "保存公告",
    "moderation.banned": "封禁学员",
    "moderation.ban_lifted": "解除封禁",
    "support.answered": "答复学员问题",
    "support.closed": "关闭学员问题",
}


def event_label(code: str) -> str:
    """The Chinese label of an event code; an unknown code is shown as it is."""
    return EVENT_LABELS.get(code, code)
