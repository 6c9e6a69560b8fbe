"""The deny list of task_env names (tasks_app/definition/envnames.py): what it refuses and allows, without regard to
case, locale values that are paths, and the README's table kept equal to the code."""
from pathlib import Path

import pytest
from django.conf import settings

from tasks_app.definition import envnames
from tasks_app.definition.envnames import RefusedEnvNames, check_task_env, refusal, refused_env_names

from .test_loader import refuse

ISSUE_ATTACK = {"PYTHONWARNINGS": "all:0:antigravity.x:0:0", "BROWSER": "/bin/bash", "BASH_ENV": "$(id > /tmp/pwned)"}
SHIPPED_ENV = {"TASK_NAME": "测试任务", "TASK_DESCRIPTION": "用于测试任务调度引擎的功能", "PARAM1": "值1",
               "DISPLAY_COLOR": "blue", "DISPLAY_STYLE": "bold", "DISPLAY_BORDER": "double"}


def test_the_issues_attack_is_refused_name_by_name_with_a_reason_each():
    refused = refused_env_names({**ISSUE_ATTACK, "PARAM1": "fine"})
    assert [name for name, _reason in refused] == ["PYTHONWARNINGS", "BROWSER", "BASH_ENV"]
    assert all(reason for _name, reason in refused)


@pytest.mark.parametrize("name", envnames.sample_names())
def test_every_name_of_the_list_is_refused(name):
    assert refusal(name, "x")


@pytest.mark.parametrize("name", ["ld_preload", "Path", "http_proxy", "Https_Proxy", "npm_config_script_shell",
                                  "pythonpath", "git_ssh_command", "complus_profiler", "bash_env"])
def test_case_does_not_matter(name):
    assert refusal(name, "x")


@pytest.mark.parametrize("name", ["1A", "A-B", "A B", "", "É", "A=B", "A\nB"])
def test_an_invalid_name_is_refused(name):
    assert refusal(name, "x") == envnames.INVALID_NAME


def test_the_shipped_example_and_ordinary_names_are_allowed():
    ordinary = {"PARAM2": "x", "DB_PASSWORD": "x", "API_URL": "x", "NODE_ENV": "production", "TZ": "Asia/Shanghai",
                "LANG": "zh_CN.UTF-8", "LC_ALL": "C.UTF-8", "LANGUAGE": "zh_CN:en", "RAILS_ENV": "production",
                "LESSON": "x", "GOAL": "x", "ASSET_DIR": "x", "CCY": "x", "ENVIRONMENT": "x", "MY_HOME": "x"}
    assert refused_env_names({**SHIPPED_ENV, **ordinary}) == []


@pytest.mark.parametrize("name", ["LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES"])
def test_a_locale_that_is_a_path_is_refused(name):
    assert refusal(name, "../../tmp/evil") == envnames.LOCALE_REASON
    assert refusal(name, "/tmp/evil") == envnames.LOCALE_REASON
    assert refusal(name, "zh_CN.UTF-8@latin") is None


def test_check_task_env_raises_a_value_error_naming_every_refused_key():
    with pytest.raises(RefusedEnvNames) as caught:
        check_task_env({"PARAM1": "x", "LD_PRELOAD": "/tmp/x.so", "PATH": "/tmp"})
    assert isinstance(caught.value, ValueError)
    assert [name for name, _reason in caught.value.refused] == ["LD_PRELOAD", "PATH"]
    assert "LD_PRELOAD (" in str(caught.value) and "PATH (" in str(caught.value)
    assert "/tmp/x.so" not in str(caught.value)  # values are never shown: they may be secrets
    check_task_env(SHIPPED_ENV)


def test_the_loader_names_each_refused_key_and_its_reason_and_no_value(tasks_dir, minimal):
    messages = refuse(minimal(task_env={**ISSUE_ATTACK, "LANG": "/tmp/x", "PARAM1": "ok"}), "task_env",
                      'task_env name "PYTHONWARNINGS" is refused: Python', 'task_env name "BROWSER" is refused',
                      'task_env name "BASH_ENV" is refused: shells', 'task_env name "LANG" is refused: a locale')
    assert len(messages) == 4
    assert not any(value in " ".join(messages) for value in ISSUE_ATTACK.values())


def test_the_readme_shows_the_list_as_the_code_holds_it():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- deny-list:start -->\n", 1)[1].split("<!-- deny-list:end -->", 1)[0]
    assert shown == envnames.markdown_table(), "README's deny list is stale: paste envnames.markdown_table() in"
