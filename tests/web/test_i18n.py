"""Every page in Simplified Chinese and English: the browser's language decides, the switcher overrides it."""
import shutil
import subprocess
import sys

import pytest
from django.conf import settings
from pathlib import Path

PAGES = ["/", "/tasks/new", "/tasks/test-task/view", "/tasks/test-task/edit", "/tasks/test-task/logs",
         "/tasks/test-task/executions", "/tasks/test-task/delete", "/workers"]


@pytest.mark.parametrize("url", PAGES)
def test_each_page_speaks_chinese_to_a_chinese_browser(as_admin, task, url):
    html = as_admin.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in html
    assert "任务调度引擎" in html and "退出登录" in html
    assert "Log out" not in html and "Task scheduler" not in html


@pytest.mark.parametrize("url", PAGES)
def test_each_page_speaks_english_to_an_english_browser(as_admin, task, url):
    html = as_admin.get(url, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="en">' in html and "Task scheduler" in html and "退出登录" not in html


def test_the_task_list_words_and_statuses_are_chinese(as_admin, task):
    html = as_admin.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for text in ("新建任务", "搜索 ID、名称或描述", "下次执行", "最近结果", "空闲", "立即执行", "删除"):
        assert text in html, text


def test_the_form_and_the_loaders_messages_are_chinese(as_operator, task):
    from .conftest import form_data
    response = as_operator.post("/tasks/new", form_data(task_schedule="61 * * * *"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = response.content.decode()
    assert "请修正下方标出的字段。" in html and "不是有效的 cron 表达式" in html
    assert "常用调度" in html and "添加变量" in html and "高级选项" in html


def test_the_language_switcher_overrides_the_browser(as_viewer, task):
    response = as_viewer.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    html = as_viewer.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans">' in html and 'id="language-select"' in html


def test_the_compiled_catalog_is_committed_next_to_a_complete_po_file():
    folder = Path(settings.BASE_DIR) / "tasks_app" / "locale" / "zh_Hans" / "LC_MESSAGES"
    assert (folder / "django.mo").stat().st_size > 10_000
    po = (folder / "django.po").read_text(encoding="utf-8")
    entries = po.split("\n\n")[1:]
    untranslated = [e for e in entries if 'msgstr ""' in e and "msgstr \"\"\n\"" not in e and "msgid_plural" not in e]
    assert untranslated == [], untranslated[:3]
    assert "#, fuzzy" not in po


def test_every_message_of_the_templates_and_the_code_has_a_chinese_translation(tmp_path):
    """makemessages on a copy of the sources (the repository's catalog is left alone): a msgid that a template or a
    gettext call uses and the catalog does not translate (missing, empty or fuzzy) would show in English."""
    if not shutil.which("xgettext") or not shutil.which("msgattrib"):
        pytest.fail("GNU gettext (xgettext, msgmerge, msgattrib) is needed: apt-get install gettext")
    root = Path(settings.BASE_DIR)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "static")
    for name in ("tasks_app", "templates", "scheduler_site"):
        shutil.copytree(root / name, tmp_path / name, ignore=ignore)
    shutil.copy(root / "manage.py", tmp_path)
    subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"], cwd=tmp_path,
                   check=True, capture_output=True, timeout=120)
    po = tmp_path / "tasks_app" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    missing = []
    for kind in ("--untranslated", "--only-fuzzy"):
        out = subprocess.run(["msgattrib", kind, "--no-wrap", "--no-location", str(po)], check=True,
                             capture_output=True, text=True, timeout=60).stdout
        missing += [line for line in out.splitlines() if line.startswith("msgid ") and line != 'msgid ""']
    assert missing == [], f"{len(missing)} message(s) without a Chinese translation: {missing[:5]}"
