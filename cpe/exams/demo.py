"""Demo question banks for the demo courses (10 single + 10 multiple + 10 true/false each, the
first few tagged to chapters for 章节练习). Made-up teaching content; idempotent.

Call from cpe/backoffice/demo.py::demo_seed after the catalog: `seed_question_banks()`."""
from django.db import transaction

from . import policy
from .models import Question

SINGLE = [
    ("会计信息质量要求中，要求企业提供的会计信息应当与使用者决策需要相关的是？", ["相关性", "可比性", "及时性", "谨慎性"], [0]),
    ("我国会计年度自公历哪一天起至 12 月 31 日止？", ["1 月 1 日", "4 月 1 日", "7 月 1 日", "10 月 1 日"], [0]),
    ("会计人员每年参加继续教育取得的学分不少于多少学分？", ["90", "60", "72", "120"], [0]),
    ("下列各项中，属于流动资产的是？", ["应收账款", "固定资产", "无形资产", "长期股权投资"], [0]),
    ("会计凭证按其填制程序和用途分为？", ["原始凭证和记账凭证", "收款凭证和付款凭证", "通用凭证和专用凭证", "单式凭证和复式凭证"], [0]),
    ("资产负债表的编制依据是？", ["资产 = 负债 + 所有者权益", "收入 - 费用 = 利润", "现金流入 - 现金流出", "借方 = 贷方"], [0]),
    ("会计档案中，会计账簿的最低保管期限一般为？", ["30 年", "10 年", "5 年", "永久"], [0]),
    ("企业对外提供的财务会计报告应当由谁签名并盖章？", ["单位负责人和主管会计工作的负责人、会计机构负责人", "出纳人员", "审计人员", "税务人员"], [0]),
    ("下列不属于会计职业道德内容的是？", ["追求利润最大化", "爱岗敬业", "诚实守信", "坚持准则"], [0]),
    ("个人信息处理应当遵循的原则不包括？", ["尽可能多地收集", "合法、正当、必要", "公开透明", "目的明确"], [0]),
    ("固定资产计提折旧时，当月增加的固定资产一般？", ["当月不计提，从下月起计提", "当月计提", "次年起计提", "不计提"], [0]),
    ("编制现金流量表时，支付职工薪酬属于？", ["经营活动现金流量", "投资活动现金流量", "筹资活动现金流量", "不影响现金流量"], [0]),
]
MULTIPLE = [
    ("下列属于会计要素的有？", ["资产", "负债", "收入", "预算"], [0, 1, 2]),
    ("会计人员继续教育的内容包括？", ["公需科目", "专业科目", "体育科目", "艺术科目"], [0, 1]),
    ("下列属于原始凭证的有？", ["发票", "入库单", "银行对账单", "科目汇总表"], [0, 1, 2]),
    ("会计职业道德的内容包括？", ["爱岗敬业", "诚实守信", "廉洁自律", "弄虚作假"], [0, 1, 2]),
    ("下列各项中，影响营业利润的有？", ["营业收入", "营业成本", "销售费用", "所得税费用"], [0, 1, 2]),
    ("财务报表至少应当包括？", ["资产负债表", "利润表", "现金流量表", "工资表"], [0, 1, 2]),
    ("下列属于数据安全保护措施的有？", ["访问控制", "加密存储", "日志审计", "公开共享密码"], [0, 1, 2]),
    ("下列属于期间费用的有？", ["管理费用", "销售费用", "财务费用", "制造费用"], [0, 1, 2]),
    ("会计账簿按用途可分为？", ["序时账簿", "分类账簿", "备查账簿", "活页账簿"], [0, 1, 2]),
    ("下列情形应当进行会计差错更正的有？", ["计算错误", "应用会计政策错误", "疏忽或曲解事实", "正常的会计估计变更"], [0, 1, 2]),
    ("全面预算通常包括？", ["经营预算", "专门决策预算", "财务预算", "个人预算"], [0, 1, 2]),
    ("内部控制的要素包括？", ["内部环境", "风险评估", "控制活动", "广告宣传"], [0, 1, 2]),
]
JUDGE = [
    ("会计人员应当按照规定参加继续教育。", [0]),
    ("企业可以根据需要随意变更会计政策。", [1]),
    ("原始凭证金额有错误的，应当由出具单位重开或更正。", [0]),
    ("会计档案可以由出纳人员兼管。", [1]),
    ("谨慎性要求企业不应高估资产或收益、低估负债或费用。", [0]),
    ("现金流量表以权责发生制为基础编制。", [1]),
    ("继续教育学分当年度有效，不得结转以后年度。", [0]),
    ("个人信息处理者可以未经同意向他人提供个人信息。", [1]),
    ("会计核算应当以实际发生的交易或事项为依据。", [0]),
    ("利润表反映企业某一特定日期的财务状况。", [1]),
    ("银行存款日记账应当定期与银行对账单核对。", [0]),
    ("会计职业道德只约束会计机构负责人。", [1]),
]
PER_TYPE = 10


def seed_question_banks(course_codes=None, per_type: int = PER_TYPE) -> int:
    """Give each course (or the ones named) a bank of per_type questions of each type if it has
    fewer. Returns the number of questions created."""
    from cpe.catalog.models import Course

    courses = Course.objects.prefetch_related("chapters").order_by("position", "id")
    if course_codes:
        courses = courses.filter(code__in=course_codes)
    made = []
    for course in courses:
        have = set(Question.objects.filter(course=course).values_list("qtype", flat=True))
        chapters = list(course.chapters.all())
        tag = f"（{course.title}）"
        if policy.SINGLE not in have:
            for i, (stem, opts, ans) in enumerate(SINGLE[:per_type]):
                made.append(Question(course=course, chapter=chapters[i % len(chapters)] if chapters and i < 6 else None,
                                     qtype=policy.SINGLE, stem=stem + tag if i == 0 else stem, options=opts, answer=ans,
                                     explanation=f"正确答案是“{opts[ans[0]]}”。"))
        if policy.MULTIPLE not in have:
            for i, (stem, opts, ans) in enumerate(MULTIPLE[:per_type]):
                made.append(Question(course=course, chapter=chapters[i % len(chapters)] if chapters and i < 3 else None,
                                     qtype=policy.MULTIPLE, stem=stem, options=opts, answer=ans,
                                     explanation="正确答案是：" + "、".join(opts[j] for j in ans) + "。"))
        if policy.JUDGE not in have:
            for i, (stem, ans) in enumerate(JUDGE[:per_type]):
                made.append(Question(course=course, chapter=chapters[i % len(chapters)] if chapters and i < 3 else None,
                                     qtype=policy.JUDGE, stem=stem, options=list(policy.JUDGE_OPTIONS), answer=ans,
                                     explanation=f"本题{policy.JUDGE_OPTIONS[ans[0]]}。"))
    with transaction.atomic():
        Question.objects.bulk_create(made)
    return len(made)
