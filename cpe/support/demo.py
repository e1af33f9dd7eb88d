"""Demo FAQ entries (rules R13). Numbers are placeholders (policy.FAQ_FACTS) filled when shown
from the policies that own them: never typed here. Idempotent: an existing question is kept."""

from .models import Category, FaqEntry

DEMO_FAQ = [
    (
        Category.PURCHASE,
        "如何购买课程？",
        "登录后点击顶部的“选课”，选择本年度的课程（年度课程包含全年所需学时），点击购买并用支付宝或微信支付。"
        "下单后请在 {支付时限分钟} 分钟内完成支付，超时订单自动关闭。支付成功后即可在“我的学习”中开始学习。",
    ),
    (
        Category.CREDITS,
        "学时多久上报到会计人员信息管理系统？",
        "课程考试合格后，平台自动把学时上报到《内蒙古自治区会计人员信息管理系统》，一般当天完成；"
        "系统繁忙时平台会自动重试。上报状态可在“我的学时”中查看。",
    ),
    (
        Category.ACCOUNT,
        "忘记密码怎么办？",
        "在登录页点击“忘记密码”，输入注册时的手机号码，获取短信验证码后设置新密码。"
        "如手机号码已不再使用，请致电客服 {客服电话}。",
    ),
    (
        Category.INVOICE,
        "发票最晚什么时候开具？",
        "已支付且未退款的订单，可在“我的发票”中申请电子发票，截止时间为支付年度的{发票截止}（北京时间）；"
        "逾期不再补开。",
    ),
    (
        Category.INVOICE,
        "可以退款吗？退款规则是什么？",
        "付款后 {退款天数} 日内（按 {退款天数}×24 小时计算），"
        "且当年学习任务尚未完成的，可在“我的订单”中申请退款，"
        "审核通过后原路全额退回；退款后课程关闭，已获得的学时撤销，已开具的发票将红冲。",
    ),
    (
        Category.LEARNING,
        "手机和电脑可以同时学习吗？",
        "同一账号同一时间只能在一处登录学习，新的登录会使之前的登录失效。手机和电脑的学习进度会自动同步。",
    ),
]


def seed_faq() -> int:
    """Create the demo entries that do not exist yet (published); return how many were made."""
    made = 0
    for position, (category, question, answer) in enumerate(DEMO_FAQ, 1):
        _obj, created = FaqEntry.objects.get_or_create(
            question=question,
            defaults={"category": category, "answer": answer, "position": position, "is_published": True},
        )
        made += created
    return made
