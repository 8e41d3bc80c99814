"""Element extraction on judgments written for these tests (criminal, appeal, civil, free-form draft)."""
from __future__ import annotations

from assistant.commands.similar import score_elements
from assistant.elements import civil_causes, cited_articles, court_level, extract, split_sections

CRIMINAL = """张某某开设赌场、容留他人吸毒一审刑事判决书
某省某市某区人民法院
（2019）某0102刑初123号
公诉机关某市某区人民检察院。
被告人张某某，男，1980年1月1日出生，汉族。因涉嫌犯开设赌场罪于2019年3月1日被刑事拘留。
某市某区人民检察院以某检刑诉（2019）100号起诉书指控被告人张某某犯开设赌场罪、容留他人吸毒罪，于2019年5月6日向本院提起公诉。
经审理查明，2018年10月至2019年2月，被告人张某某在其经营的茶楼内设置赌台，抽头渔利共计人民币二万元。其间，张某某两次容留他人在茶楼内吸食毒品。
本院认为，被告人张某某以营利为目的开设赌场，情节严重，其行为已构成开设赌场罪；容留他人吸食毒品，其行为已构成容留他人吸毒罪，依法应数罪并罚。被告人到案后如实供述，系坦白。依照《中华人民共和国刑法》第三百零三条第二款、第三百五十四条、第六十七条第三款、第六十九条第一、三款、第七十二条第一款、第三款，第五十二条、第五十三条之规定，判决如下：
一、被告人张某某犯开设赌场罪，判处有期徒刑一年五个月，并处罚金人民币一万五千元；犯容留他人吸毒罪，判处有期徒刑六个月，并处罚金人民币1000元；决定执行有期徒刑一年七个月，缓刑二年，并处罚金人民币一万六千元。
（缓刑考验期限，从判决确定之日起计算。）
二、扣押的赌资人民币3000元予以没收。
如不服本判决，可在接到判决书的第二日起十日内提出上诉。
审　判　长　　李某
人民陪审员　　王某
二〇一九年七月十二日
书　记　员　　赵某
附：相关法律条文
《中华人民共和国刑法》第三百零三条第二款开设赌场的，处五年以下有期徒刑、拘役或者管制，并处罚金。
"""

APPEAL = """王某受贿二审刑事判决书
某省某市中级人民法院
（2016）某01刑终55号
原公诉机关某县人民检察院。
上诉人（原审被告人）王某，男，原系某局局长。
某县人民法院审理某县人民检察院指控原审被告人王某犯受贿罪一案，于2015年12月1日作出（2015）某刑初字第9号刑事判决，判决如下：被告人王某犯受贿罪，判处有期徒刑六年七个月。王某不服，提出上诉。
经审理查明的事实与一审相同。
本院认为，上诉人王某身为国家工作人员，利用职务便利收受他人财物共计39万元，为他人谋取利益，其行为已构成受贿罪。鉴于刑法修正案（九）施行，量刑幅度变化，依照刑法第十二条第一款、《中华人民共和国刑法》第三百八十五条第一款、第三百八十三条第一款第（二）项、最高法、最高检《关于办理贪污贿赂刑事案件适用法律若干问题的解释》第二条第一款和《中华人民共和国刑事诉讼法》第二百二十五条第一款第㈡项的规定，判决如下：
一、维持某县人民法院（2015）某刑初字第9号刑事判决中对上诉人王某的定罪部分，即被告人王某犯受贿罪；
二、撤销该判决中对王某的量刑部分，即判处有期徒刑六年七个月；
三、上诉人王某犯受贿罪，判处有期徒刑三年，并处罚金人民币五十万元。
本判决为终审判决。
审判长　　陈某
二〇一六年九月一日
书记员　　龚某
"""

CIVIL = """陈甲、刘乙民间借贷纠纷二审民事判决书
上海金融法院
（2019）沪74民终233号
上诉人（原审被告）：陈甲，男，1972年12月2日出生，汉族。
被上诉人（原审原告）：刘乙，男，1974年9月25日出生，汉族。
原审被告：某某投资管理有限公司，住所地上海市。
上诉人陈甲因与被上诉人刘乙、原审被告某某投资管理有限公司（以下简称某某公司）民间借贷纠纷一案，不服上海市某区人民法院（2018）沪0105民初902号民事判决，向本院提起上诉。
陈甲上诉请求：撤销一审判决，改判驳回刘乙要求返还借款本金700000元的诉讼请求。
一审法院认为，借贷关系合法有效。依照《中华人民共和国合同法》第二百零六条、第二百零七条之规定，判决如下：陈甲返还借款700000元。
本院认为，陈甲的上诉请求部分成立。依照《中华人民共和国民事诉讼法》第一百七十条第一款第二项规定，判决如下：
一、变更一审判决第一项为：某某公司于本判决生效之日起十日内返还刘乙借款本金500000元；
二、驳回刘乙的其他诉讼请求。
如果未按本判决指定的期间履行给付金钱义务，应当依照《中华人民共和国民事诉讼法》第二百五十三条之规定，加倍支付迟延履行期间的债务利息。
二审案件受理费13460元，由刘乙负担。
本判决为终审判决。
审判长　　张某
二〇一九年五月二十八日
书记员　　王某
"""


def test_criminal_judgment_elements():
    el = extract(CRIMINAL, title=CRIMINAL.splitlines()[0])
    assert el["court"] == "某省某市某区人民法院" and el["court_level"] == "基层"
    assert el["case_no"] == "（2019）某0102刑初123号" and el["procedure"] == "一审" and el["case_type"] == "刑事"
    assert el["date"] == "2019-07-12"
    assert el["charges"] == ["开设赌场罪", "容留他人吸毒罪"]
    # combined sentence (决定执行), probation, the combined fine — not the sum of the parts nor the bracketed note
    assert el["sentence"] == {"prison_months": 19, "probation_months": 24, "fine_yuan": 16000, "penalty": "有期徒刑"}
    keys = [(c["law"], c["article_key"]) for c in el["cited_articles"]]
    assert keys == [("中华人民共和国刑法", k) for k in ("303", "354", "67", "69", "72", "52", "53")]
    assert el["amounts_yuan"] == [3000.0]  # fines are not amounts at stake
    assert "坦白" in el["key_facts"]


def test_appeal_uses_final_judgment_not_recital():
    el = extract(APPEAL, title=APPEAL.splitlines()[0])
    assert el["procedure"] == "二审" and el["court_level"] == "中级"
    # the struck-out sentence (六年七个月) is ignored; the new one counts
    assert el["sentence"]["prison_months"] == 36 and el["sentence"]["fine_yuan"] == 500000
    assert el["charges"] == ["受贿罪"]
    cited = {(c["law"], c["article_key"]) for c in el["cited_articles"]}
    assert ("中华人民共和国刑法", "12") in cited  # bare 刑法第十二条
    assert ("中华人民共和国刑法", "383") in cited  # 第三百八十三条第一款第（二）项
    assert ("最高人民法院、最高人民检察院关于办理贪污贿赂刑事案件适用法律若干问题的解释", "2") in cited
    assert ("中华人民共和国刑事诉讼法", "225") in cited
    sections = split_sections(APPEAL)
    assert sections["judgment"].startswith("一、维持")  # the first-instance "判决如下" recital is not the judgment
    assert "判决如下" in sections["reasoning"]


def test_civil_judgment_cause_articles_amounts():
    el = extract(CIVIL, title=CIVIL.splitlines()[0])
    assert el["court"] == "上海金融法院" and el["court_level"] == "中级"
    assert el["case_type"] == "民事" and el["procedure"] == "二审"
    assert el["charges"] == ["民间借贷纠纷"]  # party names cut off
    keys = {(c["law"], c["article_key"]) for c in el["cited_articles"]}
    assert keys == {("中华人民共和国民事诉讼法", "170")}  # lower court's basis and late-payment boilerplate skipped
    assert el["sentence"] == {}
    assert 700000 in el["amounts_yuan"] and 500000 in el["amounts_yuan"]
    assert 13460 not in el["amounts_yuan"]  # court fee


def test_causes_from_body_and_title():
    text = ("原告：刘某1，男。\n被告：刘某3，男。\n"
            "原告刘某1诉被告刘某3婚姻家庭、继承纠纷一案，本院于2020年3月2日立案后，依法适用简易程序审理。")
    assert civil_causes(text, "刘某1、刘某3等遗嘱继承纠纷一审民事判决书") == ["婚姻家庭、继承纠纷"]
    title = "宁海县第一医院医疗健康集团总院、胡某名誉权纠纷二审民事判决书"
    assert civil_causes("上诉人（原审原告）：胡某，女。\n", title) == ["名誉权纠纷"]
    assert civil_causes("", title, vocab={"名誉权纠纷"}) == ["名誉权纠纷"]  # no parties: the vocabulary
    # a draft without parties: the learned vocabulary
    assert civil_causes("双方因房屋租赁合同纠纷诉至本院。", "", vocab={"房屋租赁合同纠纷", "合同纠纷"}) == ["房屋租赁合同纠纷"]


def test_free_form_draft_with_vocabulary():
    draft = "被告人李某明知是伪造的发票而持有，数量较大，其行为已构成持有伪造的发票罪，判处拘役三个月，并处罚金二万元。"
    el = extract(draft, charges_vocab={"持有伪造的发票罪", "伪造发票罪"})
    assert el["case_type"] == "刑事" and el["charges"] == ["持有伪造的发票罪"]
    assert el["sentence"]["prison_months"] == 3 and el["sentence"]["fine_yuan"] == 20000
    assert el["sentence"]["penalty"] == "拘役"
    assert extract("")["charges"] == [] and extract("")["court"] == ""


def test_cited_articles_lists_and_nested_titles():
    text = "依照《最高人民法院〈关于审理城镇房屋租赁合同纠纷案件具体应用法律若干问题的解释〉》第八条第一项、第十二条之规定"
    keys = [(c["law"], c["article_key"]) for c in cited_articles(text)]
    law = "最高人民法院关于审理城镇房屋租赁合同纠纷案件具体应用法律若干问题的解释"
    assert keys == [(law, "8"), (law, "12")]
    assert cited_articles("依照刑法第一百三十三条之一") == [
        {"law": "中华人民共和国刑法", "article": "第一百三十三条之一", "article_key": "133-1"}]
    assert cited_articles("这不符合法律第五条") == []


def test_court_levels():
    assert court_level("最高人民法院") == "最高"
    assert court_level("武汉海事法院") == "中级" and court_level("上海金融法院") == "中级"
    assert court_level("浙江省高级人民法院") == "高级" and court_level("某县人民法院") == "基层"
    assert court_level("") == ""


def test_score_elements_counts_precision_recall():
    gold = {"court": "甲法院", "charges": ["诈骗罪"], "cited_articles": [{"law": "中华人民共和国刑法", "article": "第二百六十六条"}],
            "sentence": {"prison_months": 10}, "amounts_yuan": [100.0, 200.0]}
    pred = {"court": "甲法院", "charges": ["诈骗罪", "盗窃罪"],
            "cited_articles": [{"law": "刑法", "article": "第266条"}], "sentence": {"prison_months": 12},
            "amounts_yuan": [100.0]}
    got = score_elements([(gold, pred)])
    assert got["court"]["accuracy"] == 1.0 and got["prison_months"]["accuracy"] == 0.0
    assert got["charges"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667}
    assert got["cited_articles"]["recall"] == 1.0  # 中华人民共和国刑法 = 刑法, 第266条 = 第二百六十六条
    assert got["amounts_yuan"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667}
