"""The pytest plugin as users load it (entry point, `-p mocktools`, xdist), driven through pytester."""
from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

#: plugins of this venv that the subprocess runs do not need (they cost seconds of start-up per process)
QUIET = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:langsmith_plugin", "-p", "no:hypothesispytest",
         "-p", "no:anyio", "-p", "no:recording")


def test_fixtures_listing_does_not_crash(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--fixtures", *QUIET)
    assert result.ret == 0, result.stdout.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    for name in ("mock_ofd", "mock_mesh", "mock_registry", "mocktools_ofd_kwargs", "mocktools_clock"):
        assert sum(line.startswith(name + " ") for line in result.stdout.lines) == 1, name


def test_shared_mock_is_reused_and_reset_between_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import requests
        ports = []

        def test_first(mock_ofd):
            ports.append(mock_ofd.port)
            mock_ofd.set_permanent_failure()
            assert requests.post(mock_ofd.url + "/ofd/v1/receipt", json={"document_id": "A"}).status_code == 503

        def test_second(mock_ofd):
            assert mock_ofd.port == ports[0]          # the session's instance
            assert mock_ofd.get_call_count() == 0     # ... reset before this test
            assert requests.post(mock_ofd.url + "/ofd/v1/receipt", json={"document_id": "A"}).status_code == 200
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_marker_configures_a_fresh_instance(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        ports = []

        def test_shared(mock_ofd):
            ports.append(mock_ofd.port)
            assert mock_ofd.seed is None

        @pytest.mark.mocktools(ofd={"seed": 7})
        def test_seeded(mock_ofd):
            assert mock_ofd.seed == 7 and mock_ofd.running and mock_ofd.port != ports[0]

        @pytest.mark.mocktools(mesh={"spec": {"services": {"api": {"calls": ["db"]}, "db": {"instances": 2}}}})
        def test_mesh_spec(mock_mesh):
            assert sorted(mock_mesh.spec.services) == ["api", "db"] and len(mock_mesh.instances["db"]) == 2
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_kwargs_fixture_override_and_clock(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def mocktools_teraslice_kwargs(mocktools_clock):
            return {"seed": 3, "clock": mocktools_clock}
    """)
    pytester.makepyfile("""
        import pytest

        def test_configured(mock_teraslice, mocktools_clock):
            assert mock_teraslice.seed == 3 and mock_teraslice.clock is mocktools_clock

        @pytest.mark.mocktools(teraslice={"seed": 4})
        def test_marker_wins_over_fixture(mock_teraslice):
            assert mock_teraslice.seed == 4
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_handler_exception_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import requests
        from mocktools import MockOFDServer

        def test_registry(mock_registry):
            ofd = mock_registry.add("ofd", MockOFDServer)
            mock_registry.start()
            ofd.ledger.submit = lambda document: 1 / 0   # a bug inside the mock's handler
            assert requests.post(ofd.url + "/ofd/v1/receipt", json={"document_id": "A"}).status_code == 500

        def test_fixture(mock_ofd, monkeypatch):
            monkeypatch.setattr(mock_ofd.ledger, "submit", lambda document: 1 / 0)
            assert requests.post(mock_ofd.url + "/ofd/v1/receipt", json={"document_id": "A"}).status_code == 500

        def test_next_one_is_clean(mock_ofd):
            assert mock_ofd.errors == []
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(["*MockServerError: ofd mock handler raised ZeroDivisionError*"])


def test_marker_with_unknown_mock_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.mocktools(nope={"seed": 1})
        def test_x(mock_ofd):
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.mocktools: unknown mock(s)*nope*"])
    assert "Traceback" not in result.stdout.str()


def test_dash_p_mocktools_without_autoload(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile("def test_x(mock_ofd):\n    assert mock_ofd.running\n")
    result = pytester.runpytest_subprocess("-p", "mocktools", *QUIET)
    result.assert_outcomes(passed=1)


def test_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_x(mock_ofd, i):
            assert mock_ofd.running and mock_ofd.get_call_count() == 0
    """)
    result = pytester.runpytest_subprocess("-n", "2", *QUIET)
    result.assert_outcomes(passed=4)
