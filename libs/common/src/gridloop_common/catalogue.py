"""Departments and problem categories: the one catalogue dispatch, sla-monitor and intake read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The article (docs/domain.md): a department accepts within 8 hours and finishes "within the
# stipulated time", with no number. These limits are ours (the design brief's figure of 264
# subclasses in neighbouring Xuancheng, each with a limit, is not the article's), in five
# bands: 24 h for danger to life or a cut utility, 72 h for ordinary nuisances, 120 h and
# 168 h for work needing inspection or a third party, 360 h for construction-type work.

DepartmentKind = Literal["city_unit", "township"]

UNCLASSIFIED = "unclassified"
"""Category code for text no keyword matches: the smart-governance center triages it by hand."""


@dataclass(frozen=True)
class Department:
    code: str
    name_zh: str
    name_en: str
    kind: DepartmentKind = "city_unit"


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    department: str
    complete_within_hours: float
    keywords: tuple[str, ...] = ()


_CITY_UNITS: tuple[Department, ...] = (
    Department("city-mgmt", "市城市管理局", "Urban Management Bureau"),
    Department("housing", "市住房和城乡建设局", "Housing and Urban-Rural Development Bureau"),
    Department("ecology", "市生态环境分局", "Ecology and Environment Bureau"),
    Department("water", "市水利局", "Water Resources Bureau"),
    Department("transport", "市交通运输局", "Transport Bureau"),
    Department("civil-affairs", "市民政局", "Civil Affairs Bureau"),
    Department("public-security", "市公安局", "Public Security Bureau"),
    Department("traffic-police", "市公安局交通管理大队", "Traffic Police Brigade"),
    Department("natural-resources", "市自然资源和规划局", "Natural Resources and Planning Bureau"),
    Department("forestry", "市林业局", "Forestry Bureau"),
    Department("agriculture", "市农业农村局", "Agriculture and Rural Affairs Bureau"),
    Department("market-supervision", "市市场监督管理局", "Market Supervision Administration"),
    Department("health", "市卫生健康委员会", "Health Commission"),
    Department("medical-security", "市医疗保障局", "Medical Security Bureau"),
    Department("education", "市教育体育局", "Education and Sports Bureau"),
    Department(
        "hr-social-security", "市人力资源和社会保障局", "Human Resources and Social Security Bureau"
    ),
    Department("emergency", "市应急管理局", "Emergency Management Bureau"),
    Department("fire-rescue", "市消防救援大队", "Fire and Rescue Brigade"),
    Department("justice", "市司法局", "Justice Bureau"),
    Department("petitions", "市信访局", "Petitions Office"),
    Department("culture-tourism", "市文化和旅游局", "Culture and Tourism Bureau"),
    Department("veterans", "市退役军人事务局", "Veterans Affairs Bureau"),
    Department("power-utility", "国网宁国市供电公司", "State Grid Ningguo Power Supply Company"),
    Department("water-utility", "宁国市供水公司", "Ningguo Water Supply Company"),
    Department("gas-utility", "宁国市燃气公司", "Ningguo Gas Company"),
)

# Every township government is the fallback owner of the cases in its grids. The codes equal the
# registry's township ids (gridloop_common.registry), so fallback_owner(grid) is the township id.
# Names as of Wikipedia's 2018 division list: 6 streets, 8 towns, 5 townships (one of them ethnic).
_TOWNSHIP_NAMES: tuple[tuple[str, str, str], ...] = (
    ("xijin", "西津街道", "Xijin Subdistrict"),
    ("helixi", "河沥溪街道", "Helixi Subdistrict"),
    ("wangxi", "汪溪街道", "Wangxi Subdistrict"),
    ("nanshan", "南山街道", "Nanshan Subdistrict"),
    ("zhufeng", "竹峰街道", "Zhufeng Subdistrict"),
    ("tianhu", "天湖街道", "Tianhu Subdistrict"),
    ("gangkou", "港口镇", "Gangkou Town"),
    ("meilin", "梅林镇", "Meilin Town"),
    ("zhongxi", "中溪镇", "Zhongxi Town"),
    ("ningdun", "宁墩镇", "Ningdun Town"),
    ("xianxia", "仙霞镇", "Xianxia Town"),
    ("xiaxi", "霞西镇", "Xiaxi Town"),
    ("hule", "胡乐镇", "Hule Town"),
    ("jialu", "甲路镇", "Jialu Town"),
    ("nanji", "南极乡", "Nanji Township"),
    ("wanjia", "万家乡", "Wanjia Township"),
    ("qinglong", "青龙乡", "Qinglong Township"),
    ("fangtang", "方塘乡", "Fangtang Township"),
    ("yunti", "云梯畲族乡", "Yunti She Ethnic Township"),
)


def _township_government(slug: str, name_zh: str, name_en: str) -> Department:
    if name_zh.endswith("街道"):
        return Department(f"twp-{slug}", f"{name_zh}办事处", f"{name_en} Office", "township")
    return Department(f"twp-{slug}", f"{name_zh}人民政府", f"{name_en} Government", "township")


_TOWNSHIP_UNITS: tuple[Department, ...] = tuple(
    _township_government(slug, zh, en) for slug, zh, en in _TOWNSHIP_NAMES
)

DEPARTMENTS: tuple[Department, ...] = _CITY_UNITS + _TOWNSHIP_UNITS

# Keywords are what residents actually type in a chat group, not official terms only. A more
# specific phrase ("安装路灯") beats a shorter one it contains ("路灯") because classify() scores
# the characters a category covers; single characters are avoided (they hide in place names).
CATEGORIES: tuple[Category, ...] = (
    # --- urban management ---
    Category(
        "road-damage",
        "道路破损",
        "city-mgmt",
        72,
        ("道路", "坑洼", "破损", "路面", "坑坑洼洼", "路上有坑", "人行道", "地砖松动"),
    ),
    Category(
        "garbage",
        "垃圾清运",
        "city-mgmt",
        24,
        ("垃圾", "清运", "垃圾桶", "垃圾堆", "垃圾满了", "没人清理", "臭气熏天"),
    ),
    Category(
        "street-light",
        "路灯故障",
        "city-mgmt",
        72,
        ("路灯", "路灯坏", "灯不亮", "路灯不亮", "黑灯瞎火", "照明"),
    ),
    Category(
        "street-light-install",
        "路灯新装",
        "city-mgmt",
        360,
        ("安装路灯", "加装路灯", "装个路灯", "装路灯", "没有路灯"),
    ),
    Category(
        "manhole-cover",
        "井盖缺失破损",
        "city-mgmt",
        24,
        ("井盖", "窨井", "下水道盖", "井盖松动", "井盖丢失"),
    ),
    Category(
        "drain-blockage",
        "排水管网堵塞",
        "city-mgmt",
        72,
        ("下水道", "堵塞", "排水沟", "管道堵", "污水冒", "污水外溢", "化粪池"),
    ),
    Category(
        "street-vending",
        "占道经营",
        "city-mgmt",
        72,
        ("占道经营", "摆摊", "流动摊贩", "小摊", "占道"),
    ),
    Category(
        "illegal-ads",
        "乱张贴小广告",
        "city-mgmt",
        72,
        ("小广告", "乱张贴", "牛皮癣", "乱涂乱画", "乱贴"),
    ),
    Category("public-toilet", "公厕管理", "city-mgmt", 72, ("公厕", "公共厕所", "厕所脏", "厕所")),
    Category(
        "bike-parking",
        "非机动车乱停放",
        "city-mgmt",
        72,
        ("共享单车", "电动车乱停", "自行车乱停", "乱停放", "单车"),
    ),
    Category(
        "greenery", "绿化养护", "city-mgmt", 120, ("绿化", "草坪", "花坛", "绿化带", "修剪", "杂草")
    ),
    Category(
        "fallen-tree",
        "树木倒伏断枝",
        "city-mgmt",
        24,
        ("树倒", "倒伏", "大树倒", "树枝断", "断枝", "树被风吹倒"),
    ),
    Category(
        "construction-waste",
        "建筑垃圾乱倒",
        "city-mgmt",
        72,
        ("建筑垃圾", "渣土", "乱倒", "偷倒", "装修垃圾"),
    ),
    # --- housing and construction ---
    Category(
        "illegal-building",
        "违章搭建",
        "housing",
        168,
        ("违建", "搭建", "违章建筑", "私搭乱建", "加盖", "违章搭建"),
    ),
    Category(
        "property-service",
        "物业服务",
        "housing",
        120,
        ("物业", "物业费", "物业公司", "业委会", "业主委员会"),
    ),
    Category(
        "dangerous-house",
        "危房隐患",
        "housing",
        24,
        ("危房", "房屋开裂", "墙体开裂", "墙裂", "外墙脱落", "房子要倒"),
    ),
    Category(
        "construction-dust",
        "工地扬尘",
        "housing",
        72,
        ("扬尘", "工地扬尘", "灰尘大", "渣土车", "工地"),
    ),
    Category(
        "old-community-renovation",
        "老旧小区改造",
        "housing",
        360,
        ("老旧小区", "小区改造", "加装电梯", "改造工程"),
    ),
    Category(
        "housing-security", "保障性住房", "housing", 360, ("公租房", "廉租房", "保障房", "住房保障")
    ),
    # --- ecology and environment ---
    Category("pollution", "环境污染", "ecology", 72, ("污染", "排污", "异味")),
    Category(
        "water-pollution",
        "水体污染",
        "ecology",
        72,
        ("河水发黑", "水发臭", "河道污染", "死鱼", "排污口", "河水变色", "河水很臭"),
    ),
    Category(
        "air-pollution",
        "大气污染",
        "ecology",
        72,
        ("废气", "冒黑烟", "烟尘", "空气污染", "刺鼻", "黑烟"),
    ),
    Category(
        "open-burning",
        "露天焚烧",
        "ecology",
        24,
        ("焚烧", "烧秸秆", "烧垃圾", "露天焚烧", "烧塑料"),
    ),
    Category(
        "construction-noise",
        "施工噪声",
        "ecology",
        24,
        (
            "施工噪音",
            "夜间施工",
            "半夜施工",
            "晚上施工",
            "施工太吵",
            "打桩",
            "施工噪声",
            "机器轰鸣",
        ),
    ),
    Category("restaurant-fumes", "餐饮油烟", "ecology", 72, ("油烟", "烧烤", "排烟", "油烟机")),
    Category(
        "livestock-pollution",
        "畜禽养殖污染",
        "ecology",
        120,
        ("养猪场", "养殖场", "猪粪", "鸡粪", "粪便", "养殖污染"),
    ),
    # --- water resources ---
    Category("flooding", "积水内涝", "water", 24, ("积水", "内涝", "淹水", "水漫", "被淹")),
    Category(
        "river-management",
        "河道管理",
        "water",
        120,
        ("河道", "河堤", "堤坝", "护岸", "清淤", "河道淤积", "河里垃圾"),
    ),
    Category(
        "irrigation",
        "农田水利",
        "water",
        168,
        ("水渠", "灌溉", "沟渠", "山塘", "水塘", "抽水", "农田用水"),
    ),
    Category(
        "reservoir-danger",
        "水库山塘险情",
        "water",
        24,
        ("水库漏水", "溃坝", "管涌", "险情", "漫坝", "大坝"),
    ),
    Category("river-sand", "河道非法采砂", "water", 72, ("采砂", "挖沙", "河道采砂", "偷沙")),
    # --- transport ---
    Category("bus-stop", "公交站台", "transport", 120, ("公交", "站台", "候车亭", "公交站")),
    Category(
        "bus-service",
        "公交线路班次",
        "transport",
        360,
        ("公交车", "班车", "班次", "末班车", "公交线路", "等车"),
    ),
    Category(
        "rural-road",
        "农村公路损毁",
        "transport",
        120,
        ("村道", "乡村公路", "农村公路", "公路", "路基", "组道路"),
    ),
    Category(
        "road-construction",
        "道路新建改造",
        "transport",
        360,
        ("修路", "路面硬化", "道路硬化", "拓宽", "通组路", "修条路"),
    ),
    Category(
        "bridge-safety",
        "桥梁安全隐患",
        "transport",
        24,
        ("桥梁", "桥面", "桥墩", "大桥", "护栏", "桥塌"),
    ),
    Category(
        "taxi", "出租车网约车", "transport", 168, ("出租车", "网约车", "拒载", "绕路", "的士")
    ),
    # --- public security and traffic police ---
    Category(
        "public-order",
        "治安问题",
        "public-security",
        24,
        ("打架", "小偷", "盗窃", "诈骗", "赌博", "被偷", "偷东西", "斗殴"),
    ),
    Category(
        "dog-control",
        "犬只管理",
        "public-security",
        72,
        ("流浪狗", "野狗", "遛狗", "不牵绳", "恶犬", "狗咬", "养狗"),
    ),
    Category(
        "neighbourhood-noise",
        "社会生活噪声",
        "public-security",
        72,
        ("广场舞", "高音喇叭", "噪音扰民", "吵闹", "大声喧哗", "噪音", "噪声"),
    ),
    Category(
        "traffic-signal", "交通信号灯故障", "traffic-police", 24, ("红绿灯", "信号灯", "交通灯")
    ),
    Category(
        "illegal-parking",
        "机动车违停",
        "traffic-police",
        72,
        ("违停", "乱停车", "违章停车", "车辆乱停", "堵门", "挡路"),
    ),
    Category(
        "road-signs",
        "交通标志标线",
        "traffic-police",
        120,
        ("标线", "交通标志", "指示牌", "减速带", "斑马线"),
    ),
    # --- natural resources and forestry ---
    Category(
        "illegal-land-use",
        "违法占地",
        "natural-resources",
        168,
        ("占地", "违法用地", "占用耕地", "乱占耕地", "毁田", "挖田"),
    ),
    Category(
        "geological-hazard",
        "地质灾害",
        "natural-resources",
        24,
        ("山体滑坡", "滑坡", "塌方", "泥石流", "地面塌陷", "落石"),
    ),
    Category(
        "illegal-mining",
        "私挖乱采",
        "natural-resources",
        72,
        ("采矿", "挖山", "采石", "私挖乱采", "开山"),
    ),
    Category(
        "forest-fire",
        "森林火情",
        "forestry",
        24,
        ("山火", "森林火灾", "林火", "烧山", "山上着火", "山上冒烟"),
    ),
    Category(
        "illegal-logging", "乱砍滥伐", "forestry", 72, ("砍树", "盗伐", "乱砍滥伐", "毁林", "偷砍")
    ),
    Category(
        "wildlife", "野生动物", "forestry", 72, ("野猪", "野生动物", "捕鸟", "猴子", "拱庄稼")
    ),
    Category(
        "pine-wilt", "松材线虫病", "forestry", 120, ("松材线虫", "松树枯死", "枯死松树", "松树死")
    ),
    # --- agriculture and rural affairs ---
    Category(
        "crop-pests",
        "农作物病虫害",
        "agriculture",
        72,
        ("病虫害", "虫害", "庄稼", "水稻", "稻飞虱", "茶园"),
    ),
    Category(
        "animal-epidemic",
        "动物疫病",
        "agriculture",
        24,
        ("死猪", "病死", "猪瘟", "禽流感", "动物疫情", "死鸡"),
    ),
    Category("farmland-abandonment", "耕地撂荒", "agriculture", 168, ("撂荒", "抛荒", "荒地")),
    Category("farm-inputs", "农资质量", "agriculture", 72, ("假种子", "假化肥", "假农药", "农资")),
    Category(
        "rural-sanitation",
        "农村人居环境",
        "agriculture",
        120,
        ("改厕", "人居环境", "村容村貌", "旱厕"),
    ),
    # --- market supervision ---
    Category(
        "food-safety",
        "食品安全",
        "market-supervision",
        24,
        ("食品安全", "过期", "变质", "地沟油", "吃坏肚子", "食物中毒", "发霉"),
    ),
    Category(
        "price-fraud",
        "价格欺诈",
        "market-supervision",
        72,
        ("乱收费", "缺斤少两", "短斤缺两", "明码标价", "价格欺诈", "乱涨价"),
    ),
    Category(
        "elevator-fault",
        "电梯故障",
        "market-supervision",
        24,
        ("电梯", "电梯困人", "电梯坏", "电梯停运", "困在电梯"),
    ),
    Category("counterfeit", "假冒伪劣", "market-supervision", 72, ("假货", "假冒", "伪劣", "山寨")),
    Category(
        "unlicensed-business",
        "无证经营",
        "market-supervision",
        120,
        ("无证经营", "无照经营", "黑作坊", "没有营业执照"),
    ),
    # --- health and medical security ---
    Category(
        "medical-service",
        "医疗服务",
        "health",
        72,
        ("医院", "看病", "卫生院", "医生", "卫生室", "挂号"),
    ),
    Category(
        "epidemic-prevention",
        "传染病防控",
        "health",
        24,
        ("传染病", "疫苗", "接种", "发热", "疫情"),
    ),
    Category("illegal-clinic", "非法行医", "health", 72, ("黑诊所", "非法行医", "游医")),
    Category(
        "medical-insurance",
        "医保报销",
        "medical-security",
        168,
        ("医保", "报销", "医疗保险", "医保卡"),
    ),
    # --- education ---
    Category(
        "school-affairs",
        "学校教育",
        "education",
        120,
        ("学校", "老师", "入学", "学位", "转学", "幼儿园"),
    ),
    Category("school-bus", "校车接送", "education", 72, ("校车", "接送学生", "校车超载")),
    Category(
        "tutoring", "校外培训", "education", 168, ("补习班", "培训机构", "校外培训", "课外班")
    ),
    # --- human resources and social security ---
    Category(
        "wage-arrears",
        "拖欠工资",
        "hr-social-security",
        168,
        ("拖欠工资", "欠薪", "工资不发", "讨薪", "农民工工资", "不发工资"),
    ),
    Category(
        "social-insurance",
        "社会保险",
        "hr-social-security",
        168,
        ("社保", "养老保险", "社保卡", "养老金"),
    ),
    Category(
        "employment",
        "就业服务",
        "hr-social-security",
        360,
        ("找工作", "就业", "招聘", "失业", "技能培训"),
    ),
    # --- civil affairs ---
    Category(
        "elderly-care",
        "养老服务",
        "civil-affairs",
        168,
        ("养老", "独居老人", "敬老院", "养老院", "老人没人管", "孤寡老人"),
    ),
    Category(
        "social-assistance",
        "低保救助",
        "civil-affairs",
        360,
        ("低保", "救助", "困难户", "特困", "临时救助"),
    ),
    Category("vagrants", "流浪乞讨人员", "civil-affairs", 24, ("流浪汉", "乞讨", "流浪人员")),
    Category("funeral", "殡葬管理", "civil-affairs", 168, ("殡葬", "乱埋乱葬", "墓地", "坟墓")),
    # --- emergency management and fire ---
    Category(
        "safety-hazard",
        "安全生产隐患",
        "emergency",
        24,
        ("安全隐患", "安全生产", "违规作业", "危化品", "烟花爆竹", "鞭炮"),
    ),
    Category(
        "disaster-relief",
        "自然灾害救助",
        "emergency",
        24,
        ("受灾", "冰雪", "暴雨", "台风", "灾情", "冰冻"),
    ),
    Category(
        "fire-hazard",
        "消防隐患",
        "fire-rescue",
        24,
        ("消防通道", "消防栓", "灭火器", "飞线充电", "电动车充电", "楼道堆物", "着火"),
    ),
    # --- utilities ---
    Category(
        "water-outage",
        "停水",
        "water-utility",
        24,
        ("停水", "没水", "水压低", "水压小", "自来水", "断水"),
    ),
    Category(
        "water-pipe-burst",
        "供水管道爆裂",
        "water-utility",
        24,
        ("水管爆", "爆管", "水管破裂", "水管漏水", "水管坏"),
    ),
    Category(
        "water-quality",
        "饮用水水质",
        "water-utility",
        24,
        ("水质", "水浑", "水发黄", "水有异味", "黄水", "自来水发黄", "自来水浑浊", "浑浊"),
    ),
    Category(
        "power-outage",
        "停电",
        "power-utility",
        24,
        ("停电", "没电", "断电", "跳闸", "电压不稳", "电压低"),
    ),
    Category(
        "power-line-hazard",
        "电力线路隐患",
        "power-utility",
        24,
        ("电线", "电线杆", "电线掉", "线路老化", "电杆", "变压器", "电线断"),
    ),
    Category(
        "gas-leak",
        "燃气泄漏",
        "gas-utility",
        24,
        ("燃气泄漏", "煤气味", "天然气泄漏", "漏气", "燃气味", "煤气泄漏"),
    ),
    Category(
        "gas-supply",
        "燃气供应",
        "gas-utility",
        72,
        ("燃气", "天然气", "停气", "燃气表", "开通燃气", "燃气费"),
    ),
    # --- justice, petitions, culture and tourism, veterans ---
    Category(
        "neighbour-dispute", "邻里纠纷", "justice", 72, ("纠纷", "吵架", "矛盾", "调解", "邻居")
    ),
    Category("legal-aid", "法律援助", "justice", 168, ("法律援助", "打官司", "律师", "法律咨询")),
    Category("petition", "信访诉求", "petitions", 360, ("信访", "上访", "信访件", "越级")),
    Category(
        "scenic-area",
        "景区服务",
        "culture-tourism",
        120,
        ("景区", "旅游", "门票", "导游", "农家乐", "游客"),
    ),
    Category(
        "cultural-facility",
        "文体设施",
        "culture-tourism",
        168,
        ("健身器材", "文化广场", "图书馆", "农家书屋", "体育设施", "篮球场"),
    ),
    Category(
        "entertainment-venue",
        "娱乐场所",
        "culture-tourism",
        72,
        ("网吧", "娱乐场所", "ktv", "歌厅", "未成年人上网"),
    ),
    Category(
        "veteran-services",
        "退役军人服务",
        "veterans",
        168,
        ("退役军人", "退伍", "优抚", "军属", "烈士"),
    ),
)

DEPARTMENTS_BY_CODE = {d.code: d for d in DEPARTMENTS}
CATEGORIES_BY_CODE = {c.code: c for c in CATEGORIES}


def _covered_chars(text: str, keywords: tuple[str, ...]) -> tuple[int, int, int]:
    """(characters of text covered by matches, longest match, number of distinct matches)."""
    covered: set[int] = set()
    longest = 0
    matches = 0
    for keyword in keywords:
        start = text.find(keyword)
        if start < 0:
            continue
        matches += 1
        longest = max(longest, len(keyword))
        while start >= 0:
            covered.update(range(start, start + len(keyword)))
            start = text.find(keyword, start + 1)
    return len(covered), longest, matches


def classify(text: str) -> Category | None:
    """The category whose keywords cover most of the text; None when no keyword occurs.

    Covered characters rather than raw match counts, so nested keywords ("路灯", "路灯坏") do
    not count twice and a longer, more specific phrase wins. Ties go to the longest single match,
    then the most matches, then the shorter completion limit (when unsure, the urgent reading
    wins: "道路积水" is flooding, not road damage), then catalogue order — the same text always
    lands in the same place.
    """
    normalized = "".join(text.split()).lower()
    best: Category | None = None
    best_score: tuple[int, int, int, float] = (0, 0, 0, 0.0)
    for category in CATEGORIES:
        covered, longest, matches = _covered_chars(normalized, category.keywords)
        score = (covered, longest, matches, -category.complete_within_hours)
        if covered and score > best_score:
            best, best_score = category, score
    return best
