"""Course builder: structure, role-first selection, a quiz whose every answer is backed by its cited text,
exports (Markdown, Word with TOC and answer key, JSON), determinism, bad input and the CLI contract."""
from __future__ import annotations

import copy
import json

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import get_settings
from assistant.course import CourseError, build_course, to_docx, to_markdown
from assistant.course.model import Course
from assistant.course.phrases import key_phrases, norm
from assistant.course.quality import course_quality, question_problems
from assistant.course.rephrase import acceptable
from assistant.course.topic import audience_roles, check_format

runner = CliRunner()


@pytest.fixture(scope="module")
def judge_course(small_searcher) -> Course:
    return build_course(small_searcher, "错案责任追究", "新任法官", 4)


@pytest.fixture(scope="module")
def clerk_course(small_searcher) -> Course:
    return build_course(small_searcher, "回避制度", "书记员", 2)


def test_outline_structure(judge_course):
    c = judge_course
    assert len(c.modules) >= 4, "a 4-hour course has at least 4 modules"
    assert c.roles == ["法官"]
    assert sum(m.minutes for m in c.modules) + c.stats["quiz_minutes"] == 240
    for m in c.modules:
        assert m.provisions and m.objectives and len(m.discussion) >= 1
        assert all(p.status in ("现行有效", "已修改", "未知") and p.text and p.heading.startswith("《") for p in m.provisions)
        flags = [p.role_match for p in m.provisions]
        assert flags == sorted(flags, reverse=True), "provisions of the audience's role come first"
    headings = {p.heading for m in c.modules for p in m.provisions}
    assert "《中华人民共和国法官法》第四十六条" in headings  # 因重大过失导致裁判结果错误 …
    assert len(headings) == sum(len(m.provisions) for m in c.modules), "no provision twice"
    json.dumps(c.to_dict(), ensure_ascii=False)


def test_quiz_answers_supported_by_cited_text(small_searcher, judge_course):
    c = judge_course
    q = course_quality(small_searcher, c, to_markdown(c))
    assert q["questions"] >= 8
    assert {"single_choice", "true_false", "case_analysis"} <= set(q["by_type"])
    assert q["supported_rate"] == 1.0, q["problems"]
    assert q["duplicates"] == 0 and q["citation_failures"] == [] and q["modules_ok"]
    st = small_searcher.store
    for x in c.quiz:
        text = norm(st.by_id(x.cite_chunk).text)
        assert norm(x.key) in text
        assert all(norm(d) not in text for d in x.distractors)
        if x.type == "single_choice":
            assert x.options[ord(x.answer) - 65] == x.key and len(set(x.options)) == 4


def test_quality_check_catches_broken_questions(small_searcher, judge_course):
    sc = next(q for q in judge_course.quiz if q.type == "single_choice")
    text = norm(small_searcher.store.by_id(sc.cite_chunk).text)
    wrong_letter = copy.deepcopy(sc)
    wrong_letter.answer = "ABCD"[(ord(sc.answer) - 65 + 1) % 4]
    assert any("answer letter" in p for p in question_problems(small_searcher, wrong_letter))
    leaky = copy.deepcopy(sc)  # a "distractor" that is really in the article
    leaky.distractors[0] = text[:6]
    leaky.options = [text[:6] if o == sc.distractors[0] else o for o in sc.options]
    assert any("distractor" in p for p in question_problems(small_searcher, leaky))
    unsupported = copy.deepcopy(sc)
    unsupported.key = "量子纠缠态"
    assert question_problems(small_searcher, unsupported)


def test_distractors_from_parallel_law(small_searcher):
    rows = small_searcher.laws.rows[("中华人民共和国法官法", "48")]
    chunk = small_searcher.store.get(rows[0])
    phrases = [p for p in key_phrases(small_searcher, chunk) if len(p.distractors) == 3]
    assert phrases
    text = norm(chunk.text)
    assert all(d not in text for p in phrases for d in p.distractors)
    pool = {d for p in phrases for d in p.distractors}
    assert pool & {"检察官惩戒委员会", "第四十七条第四项、第五项"}, pool  # 检察官法第49条, same position


def test_audience_roles_and_clerk_course(clerk_course):
    assert audience_roles("新任法官") == ["法官"]
    assert audience_roles("新警") == ["人民警察"]
    assert audience_roles("司法辅助人员") == ["法官助理/检察官助理", "书记员"]
    assert audience_roles("检察官助理") == ["法官助理/检察官助理"]
    c = clerk_course
    assert c.roles == ["书记员"] and len(c.modules) >= 2
    assert all("回避" in p.text or "回避" in p.chapter for m in c.modules for p in m.provisions[:1])
    assert any(p.role_match and "书记员" in p.text for m in c.modules for p in m.provisions)


def test_markdown_export(judge_course):
    md = to_markdown(judge_course)
    toc, quiz, key = md.index("## 目录"), md.index("## 测验"), md.index("## 答案与解析")
    assert toc < md.index("## 模块1") < quiz < key
    for m in judge_course.modules:
        assert f"{m.n}. 模块{m.n}：{m.title}" in md[toc:md.index("## 模块1")]
    assert md[key:].count("**答案：") == len(judge_course.quiz)
    assert "> 法官有下列行为之一的" in md  # the provision is quoted


def test_docx_export(judge_course, tmp_path):
    from docx import Document

    path = to_docx(judge_course, tmp_path / "course.docx")
    doc = Document(str(path))
    instr = "".join(el.text or "" for el in doc.element.body.iter() if el.tag.endswith("}instrText"))
    assert "TOC" in instr
    heads = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert heads[0] == "目录" and heads[-1] == "答案与解析"
    assert sum(h.startswith("模块") for h in heads) == len(judge_course.modules)
    body = "\n".join(p.text for p in doc.paragraphs)
    assert all(f"模块{m.n}：{m.title}" in body for m in judge_course.modules)
    with pytest.raises(CourseError):
        to_docx(judge_course, tmp_path / "course.txt")


def test_json_round_trip_and_determinism(small_searcher, judge_course):
    d = judge_course.to_dict()
    assert Course.from_dict(json.loads(json.dumps(d))).to_dict() == d
    again = build_course(small_searcher, "错案责任追究", "新任法官", 4).to_dict()
    for x in (d, again):
        x["stats"].pop("build_seconds")
    assert again == d


@pytest.mark.parametrize("topic,audience,hours,needle", [
    ("", "新任法官", 4, "topic is empty"),
    ("   ", "新任法官", 4, "topic is empty"),
    ("量子计算", "新任法官", 4, "does not cover"),
    ("错案责任追究", "新任法官", 0, "hours"),
    ("错案责任追究", "新任法官", 500, "hours"),
    ("错案责任追究", "新任法官", float("nan"), "hours"),
    ("错案责任追究", "律师", 4, "unknown audience"),
    ("错案责任追究" * 10, "新任法官", 4, "too long"),
])
def test_bad_input(small_searcher, topic, audience, hours, needle):
    with pytest.raises(CourseError) as exc:
        build_course(small_searcher, topic, audience, hours)
    assert needle in str(exc.value) and any("\u4e00" <= ch <= "\u9fff" for ch in str(exc.value))


def test_formats():
    assert check_format("MD") == "md" and check_format("word") == "docx"
    with pytest.raises(CourseError, match="unknown format"):
        check_format("pdf")


def test_rephrase_guard(judge_course):
    sc = next(q for q in judge_course.quiz if q.type == "single_choice" and "（　　）" in q.stem)
    assert acceptable(sc, sc.stem.replace("括号中应填入的是：", "请选出括号中应当填入的内容："))
    assert not acceptable(sc, sc.stem.replace("（　　）", sc.key))  # gives the answer away
    assert not acceptable(sc, "请作答。")  # too short, blank lost


@pytest.fixture
def cli_env(small_settings, monkeypatch):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(small_settings.index_dir))
    monkeypatch.setenv("ASSISTANT_SOURCES", small_settings.sources)
    monkeypatch.setenv("ASSISTANT_DENSE", "false")
    monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", "")
    get_settings.cache_clear()
    yield small_settings
    get_settings.cache_clear()


def test_cli_course(cli_env, tmp_path):
    r = runner.invoke(app, ["course", "--topic", "回避制度", "--audience", "书记员", "--hours", "2", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["topic"] == "回避制度" and len(d["modules"]) >= 2 and d["quiz"]
    out = tmp_path / "c.docx"
    r = runner.invoke(app, ["course", "--topic", "回避制度", "--audience", "书记员", "--hours", "2", "--format", "docx",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.stat().st_size > 5000


@pytest.mark.parametrize("args", [
    ["course", "--topic", ""],
    ["course", "--topic", "量子计算"],
    ["course", "--topic", "回避制度", "--hours", "0"],
    ["course", "--topic", "回避制度", "--hours", "500"],
    ["course", "--topic", "回避制度", "--format", "pdf"],
    ["course", "--topic", "回避制度", "--format", "docx"],
    ["course", "--topic", "回避制度", "--audience", "外星人"],
])
def test_cli_bad_input_exits_2(cli_env, args):
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert "错误" in r.output and "Traceback" not in r.output


def test_cli_eval_course(cli_env, tmp_path):
    topics = tmp_path / "topics.jsonl"
    topics.write_text('{"topic": "回避制度", "audience": "书记员", "hours": 2}\n'
                      '{"topic": "量子计算", "expect_error": true}\n', encoding="utf-8")
    r = runner.invoke(app, ["eval", "course", "--topics", str(topics), "--json", "--no-report"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["built"] == 1 and d["expected_errors_ok"] == 1 and d["supported_rate"] == 1.0
    assert d["ok_rate"] == 1.0 and d["deterministic"] is True
