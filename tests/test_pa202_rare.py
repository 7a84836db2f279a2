"""PA202 in code that serves a rare event: the module, class or function name words of
`[run_once] topics` (firmware/OTA), an authentication that stores the credential it got,
a function that waits for a person. Each with the look-alike that stays reported."""

from __future__ import annotations

import textwrap
from pathlib import Path

from perfaudit.api import scan
from perfaudit.config import Config
from perfaudit.rules.pa202_client_created_per_call import _words

FETCH = """
    import aiohttp
    {prefix}
    async def {name}(url):
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as rsp:
                {body}
"""


def _pa202(tmp_path: Path, module: str, src: str) -> list[int]:
    parts = module.split(".")
    folder = tmp_path
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text("")
    for p in parts[:-1]:
        folder = folder / p
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text("")
    target = folder / f"{parts[-1]}.py"
    target.write_text(textwrap.dedent(src))
    found = scan([str(tmp_path / parts[0])], Config(select=("PA202",)), workers=1,
                 cache=False).findings
    return [f.span.line for f in found]


def test_words_split_dotted_snake_and_camel_case() -> None:
    assert _words("RemoteOtaImageMetadata") == {"remote", "ota", "image", "metadata"}
    assert _words("twitchAPI.oauth") == {"twitch", "api", "oauth"}
    assert _words("OTAProvider") == {"ota", "provider"}
    assert _words("_download_update") == {"download", "update"}
    assert "ota" not in _words("fetch_quota") | _words("QuotaManager") | _words("iota")


def test_a_firmware_topic_in_the_module_path_is_rare(tmp_path: Path) -> None:
    src = FETCH.format(prefix="", name="_download", body="return await rsp.read()")
    assert _pa202(tmp_path / "a", "app.ota.provider", src) == []
    assert _pa202(tmp_path / "b", "app.firmware", src) == []
    # the same download in a module of any other name is made per call
    assert _pa202(tmp_path / "c", "app.quota.provider", src) == [5]
    assert _pa202(tmp_path / "d", "app.updates", src) == [5]


def test_a_route_is_per_request_whatever_its_module(tmp_path: Path) -> None:
    src = FETCH.format(prefix="from app.web import router\n    @router.get('/ota/latest')",
                       name="latest", body="return await rsp.read()")
    assert _pa202(tmp_path, "app.ota.views", src) == [6]


def test_an_authentication_that_stores_its_credential(tmp_path: Path) -> None:
    stored = """
        import aiohttp
        class Client:
            async def {name}(self, url):
                async with aiohttp.ClientSession() as session:
                    async with session.post(url) as rsp:
                        data = await rsp.json()
                {store}
    """
    keep = stored.format(name="login", store="self.token = data['access_token']")
    assert _pa202(tmp_path / "a", "app.client", keep) == []
    # stored in a local only, or a constant stored, or no authentication word
    for i, (name, store) in enumerate([
            ("login", "token = data['access_token']"),
            ("login", "self.logged_in = True"),
            ("refresh_state", "self.state = data"),  # (`refresh` is a run-once word)
            ("poll", "self.state = data")]):
        found = _pa202(tmp_path / f"b{i}", "app.client", stored.format(name=name, store=store))
        assert found == ([] if name == "refresh_state" else [5]), (name, store)
    # the authentication word may be the class's or the module's
    assert _pa202(tmp_path / "c", "app.oauth",
                  stored.format(name="get_code", store="self._device_code = data['code']")
                  ) == []
    assert _pa202(tmp_path / "d", "app.client",
                  stored.format(name="get_code", store="self._device_code = data['code']")
                  ) == [5]


def test_a_function_that_waits_for_a_person(tmp_path: Path) -> None:
    src = """
        import aiohttp
        {imp}
        async def authenticate(url):
            {wait}
            async with aiohttp.ClientSession() as session:
                async with session.post(url) as rsp:
                    return await rsp.json()
    """
    for i, (imp, wait) in enumerate([("import webbrowser", "webbrowser.open(url)"),
                                     ("from webbrowser import get", "get(None).open(url)"),
                                     ("", "code = input('code: ')"),
                                     ("import getpass", "pw = getpass.getpass()")]):
        assert _pa202(tmp_path / f"a{i}", "app.auth", src.format(imp=imp, wait=wait)) == [], imp
    # a `print` is no wait; a method named `open` on another object is no browser
    for i, wait in enumerate(["print(url)", "self.browser.open(url)"]):
        assert _pa202(tmp_path / f"b{i}", "app.auth", src.format(imp="", wait=wait)) == [6]
