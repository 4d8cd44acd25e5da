"""`mocktools serve vllm --served-model-name ... --api-key ...` as a real process, driven by the openai client."""
import os
import signal
import subprocess
import sys

import openai
import pytest


@pytest.mark.timeout(60)
def test_serve_vllm_process_with_flags():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mocktools", "serve", "vllm", "--port", "0",
                             "--served-model-name", "served-a", "served-b", "--api-key", "k1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        url = lines[1].split()[-1]
        assert url.startswith("http://127.0.0.1:")
        client = openai.OpenAI(base_url=url + "/v1", api_key="k1", max_retries=0, timeout=10)
        assert [m.id for m in client.models.list().data] == ["served-a", "served-b"]
        reply = client.completions.create(model="served-b", prompt="hi", max_tokens=3)
        assert reply.model == "served-a" and reply.usage.completion_tokens == 3
        with pytest.raises(openai.AuthenticationError):
            client.with_options(api_key="nope").models.list()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
