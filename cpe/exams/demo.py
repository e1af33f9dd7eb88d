"""Demo question banks, in two pools that share no question: an exam pool (10 single + 10
multiple + 10 true/false, enough for a paper) and a practice pool (each question tagged to a
chapter for 章节练习; the mock exam draws a paper from them). Each demo course has its own bank
(demo_bank.BANKS, by the course code's suffix); any other course gets the general bank below
(会计基础). Every question is checked against the law or standard it teaches; idempotent.

Call from cpe/backoffice/demo.py::demo_seed after the catalog: `seed_question_banks()`."""

from django.db import transaction

from cpe.catalog.models import Course

from . import policy
from .demo_bank import BANKS
from .models import Question

SINGLE = [
    (
        "会计信息质量要求中，要求企业提供的会计信息应当与使用者决策需要相关的是？",
        ["相关性", "可比性", "及时性", "谨慎性"],
        [0],
    ),
    (
        "我国会计年度自公历哪一天起至 12 月 31 日止？",
        ["1 月 1 日", "4 月 1 日", "7 月 1 日", "10 月 1 日"],
        [0],
    ),
    ("会计人员每年参加继续教育取得的学分不少于多少学分？", ["90", "60", "72", "120"], [0]),
    ("下列各项中，属于流动资产的是？", ["应收账款", "固定资产", "无形资产", "长期股权投资"], [0]),
    (
        "会计凭证按其填制程序和用途分为？",
        ["原始凭证和记账凭证", "收款凭证和付款凭证", "通用凭证和专用凭证", "单式凭证和复式凭证"],
        [0],
    ),
    (
        "资产负债表的编制依据是？",
        ["资产 = 负债 + 所有者权益", "收入 - 费用 = 利润", "现金流入 - 现金流出", "借方 = 贷方"],
        [0],
    ),
    ("会计档案中，会计账簿的最低保管期限一般为？", ["30 年", "10 年", "5 年", "永久"], [0]),
    (
        "企业对外提供的财务会计报告应当由谁签名并盖章？",
        ["单位负责人和主管会计工作的负责人、会计机构负责人", "出纳人员", "审计人员", "税务人员"],
        [0],
    ),
    ("下列不属于会计职业道德内容的是？", ["追求利润最大化", "爱岗敬业", "诚实守信", "坚持准则"], [0]),
    (
        "个人信息处理应当遵循的原则不包括？",
        ["尽可能多地收集", "合法、正当、必要", "公开透明", "目的明确"],
        [0],
    ),
    (
        "固定资产计提折旧时，当月增加的固定资产一般？",
        ["当月不计提，从下月起计提", "当月计提", "次年起计提", "不计提"],
        [0],
    ),
    (
        "编制现金流量表时，支付职工薪酬属于？",
        ["经营活动现金流量", "投资活动现金流量", "筹资活动现金流量", "不影响现金流量"],
        [0],
    ),
]
MULTIPLE = [
    ("下列属于会计要素的有？", ["资产", "负债", "收入", "预算"], [0, 1, 2]),
    ("会计人员继续教育的内容包括？", ["公需科目", "专业科目", "体育科目", "艺术科目"], [0, 1]),
    (
        "下列属于原始凭证的有？",
        ["发票", "入库单", "领料单", "银行对账单"],
        [0, 1, 2],
        "银行对账单是银行提供的核对资料，不能证明经济业务的发生和完成情况，不属于原始凭证。",
    ),
    ("会计职业道德的内容包括？", ["爱岗敬业", "诚实守信", "廉洁自律", "弄虚作假"], [0, 1, 2]),
    ("下列各项中，影响营业利润的有？", ["营业收入", "营业成本", "销售费用", "所得税费用"], [0, 1, 2]),
    ("财务报表至少应当包括？", ["资产负债表", "利润表", "现金流量表", "工资表"], [0, 1, 2]),
    ("下列属于数据安全保护措施的有？", ["访问控制", "加密存储", "日志审计", "公开共享密码"], [0, 1, 2]),
    ("下列属于期间费用的有？", ["管理费用", "销售费用", "财务费用", "制造费用"], [0, 1, 2]),
    ("会计账簿按用途可分为？", ["序时账簿", "分类账簿", "备查账簿", "活页账簿"], [0, 1, 2]),
    (
        "下列情形应当进行会计差错更正的有？",
        ["计算错误", "应用会计政策错误", "疏忽或曲解事实", "正常的会计估计变更"],
        [0, 1, 2],
    ),
    ("全面预算通常包括？", ["经营预算", "专门决策预算", "财务预算", "个人预算"], [0, 1, 2]),
    ("内部控制的要素包括？", ["内部环境", "风险评估", "控制活动", "广告宣传"], [0, 1, 2]),
]
JUDGE = [
    ("会计人员应当按照规定参加继续教育。", [0]),
    ("企业可以根据需要随意变更会计政策。", [1]),
    (
        "原始凭证金额有错误的，应当由出具单位重开，不得在原始凭证上更正。",
        [0],
        "《会计法》第十四条：原始凭证有错误的，应当由出具单位重开或者更正，更正处应当加盖出具单位印章；"
        "原始凭证金额有错误的，应当由出具单位重开，不得在原始凭证上更正。",
    ),
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
# The practice pool: other questions than the exam's (practice shows its answers at once).
PRACTICE_SINGLE = [
    (
        "借贷记账法的记账规则是？",
        ["有借必有贷，借贷必相等", "有收必有付，收付必相等", "有增必有减，增减必相等", "先借后贷"],
        [0],
    ),
    ("下列账户中，期末一般有借方余额的是？", ["库存现金", "短期借款", "实收资本", "应付账款"], [0]),
    (
        "企业从银行提取现金，应当编制的记账凭证是？",
        ["银行存款付款凭证", "现金收款凭证", "转账凭证", "现金付款凭证"],
        [0],
    ),
    ("会计的基本职能是？", ["核算和监督", "预测和决策", "计划和控制", "分析和考核"], [0]),
    ("会计主体假设界定了会计工作的？", ["空间范围", "时间范围", "计量单位", "核算方法"], [0]),
    ("企业购入不需要安装的设备，应借记的科目是？", ["固定资产", "在建工程", "原材料", "管理费用"], [0]),
    ("所有者权益中，由投资者投入的资本计入？", ["实收资本", "盈余公积", "未分配利润", "资本公积——其他"], [0]),
    (
        "错账更正时，记账凭证无误、账簿记录有文字或数字错误，应采用？",
        ["划线更正法", "红字更正法", "补充登记法", "重新编制凭证"],
        [0],
    ),
    ("应收账款计提坏账准备体现的会计信息质量要求是？", ["谨慎性", "重要性", "及时性", "可理解性"], [0]),
    ("企业的营业外收入不包括？", ["主营业务收入", "捐赠利得", "盘盈利得", "罚没利得"], [0]),
]
PRACTICE_MULTIPLE = [
    ("下列属于所有者权益的有？", ["实收资本", "资本公积", "盈余公积", "应付股利"], [0, 1, 2]),
    ("会计核算的基本前提包括？", ["会计主体", "持续经营", "会计分期", "权责发生"], [0, 1, 2]),
    ("下列属于资产类账户的有？", ["银行存款", "应收票据", "预付账款", "预收账款"], [0, 1, 2]),
    ("记账凭证应当具备的内容有？", ["填制日期", "凭证编号", "会计科目", "经办人的家庭住址"], [0, 1, 2]),
    ("下列属于财产清查方法的有？", ["实地盘点", "技术推算", "核对账目", "估计代替"], [0, 1, 2]),
    ("下列费用中，应计入产品成本的有？", ["直接材料", "直接人工", "制造费用", "销售费用"], [0, 1, 2]),
    ("企业的负债按偿还期限可分为？", ["流动负债", "非流动负债", "所有者权益", "期间费用"], [0, 1]),
    ("对账的内容包括？", ["账证核对", "账账核对", "账实核对", "账表随意调整"], [0, 1, 2]),
    ("下列属于会计计量属性的有？", ["历史成本", "重置成本", "公允价值", "预算价格"], [0, 1, 2]),
    ("下列属于利润表项目的有？", ["营业收入", "利润总额", "净利润", "货币资金"], [0, 1, 2]),
]
PRACTICE_JUDGE = [
    ("借贷记账法下，资产类账户的增加记在借方。", [0]),
    ("会计分期假设是权责发生制的前提。", [0]),
    ("总分类账户与明细分类账户应当平行登记。", [0]),
    ("企业的所有票据都是原始凭证。", [1]),
    ("试算平衡了，说明账簿记录一定没有错误。", [1]),
    ("库存现金应当每日清点，做到日清月结。", [0]),
    ("预收账款属于企业的资产。", [1]),
    ("企业应当按照实际成本对存货进行初始计量。", [0]),
    ("会计科目就是账户，两者没有区别。", [1]),
    ("所有者权益是企业资产扣除负债后由所有者享有的剩余权益。", [0]),
]
PER_TYPE = 10


GENERAL = {
    "exam": {"single": SINGLE, "multiple": MULTIPLE, "judge": JUDGE},
    "practice": {"single": PRACTICE_SINGLE, "multiple": PRACTICE_MULTIPLE, "judge": PRACTICE_JUDGE},
}


def bank_for(course_code: str) -> dict:
    """The demo course's own bank (its code's last part: 2026-P01 → P01), else the general one."""
    return BANKS.get(course_code.rsplit("-", 1)[-1], GENERAL)


def _explanation(qtype, opts, ans, given=None) -> str:
    if given:
        return given
    if qtype == policy.SINGLE:
        return f"正确答案是“{opts[ans[0]]}”。"
    if qtype == policy.MULTIPLE:
        return "正确答案是：" + "、".join(opts[j] for j in ans) + "。"
    return f"本题{policy.JUDGE_OPTIONS[ans[0]]}。"


def seed_question_banks(course_codes=None, per_type: int = PER_TYPE) -> int:
    """Give each course (or the ones named) its questions of each type in each pool where it has
    none of that type in that pool (an older demo database, whose questions all became exam
    questions, gets its practice pool). A demo course with its own bank gets exactly that bank:
    questions of an older seed are retired (inactive). Returns the number of questions created."""

    courses = Course.objects.prefetch_related("chapters").order_by("position", "id")
    if course_codes:
        courses = courses.filter(code__in=course_codes)
    made = []
    types = (("single", policy.SINGLE), ("multiple", policy.MULTIPLE), ("judge", policy.JUDGE))
    retired = 0
    for course in courses:
        chapters = list(course.chapters.all())
        bank = bank_for(course.code)
        own = bank is not GENERAL
        existing = set(Question.objects.filter(course=course).values_list("stem", flat=True))
        if own:
            # A demo course with its own bank: questions not in it (the old shared bank of an
            # older demo database, some of it wrong) leave both pools; papers already drawn keep
            # their items. Only the bank's missing questions are added.
            stems = {row[0] for pool in bank.values() for rows in pool.values() for row in rows}
            retired += (
                Question.objects.filter(course=course, is_active=True)
                .exclude(stem__in=stems)
                .update(is_active=False)
            )
        have = set(Question.objects.filter(course=course).values_list("pool", "qtype"))
        for pool, key in ((policy.POOL_EXAM, "exam"), (policy.POOL_PRACTICE, "practice")):
            for name, qtype in types:
                if not own and (pool, qtype) in have:
                    continue
                for i, row in enumerate(bank[key][name][:per_type]):
                    if own and row[0] in existing:
                        continue
                    if qtype == policy.JUDGE:
                        stem, ans, *rest = row
                        opts = list(policy.JUDGE_OPTIONS)
                    else:
                        stem, opts, ans, *rest = row
                    # Practice questions go to the chapters in turn (章节练习); exam questions need none.
                    chapter = (
                        chapters[i % len(chapters)] if chapters and pool == policy.POOL_PRACTICE else None
                    )
                    made.append(
                        Question(
                            course=course,
                            chapter=chapter,
                            pool=pool,
                            qtype=qtype,
                            stem=stem,
                            options=list(opts),
                            answer=list(ans),
                            explanation=_explanation(qtype, opts, ans, rest[0] if rest else None),
                        )
                    )
    with transaction.atomic():
        Question.objects.bulk_create(made)
    return len(made)
