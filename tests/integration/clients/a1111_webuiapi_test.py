"""The AUTOMATIC1111 API of `ftdr serve`, driven by the real `webuiapi` client from PyPI.

Run by CTest (tests/CMakeLists.txt, test a1111_webuiapi) with the interpreter of build/venv-clients
(scripts/test-clients.sh installs the pinned client there):

    python a1111_webuiapi_test.py FTDR_EXE PLUGIN_DIR SOURCE_DIR WORK_DIR

Starts the real `ftdr serve` on a free loopback port with the libtorch plugin and the embedded
demo model (models/ftdr-shapes). Exits 77 (CTest's skip) naming what is missing when the client or
the libtorch plugin is not there; any failed check exits 1.
"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

SKIP = 77


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


try:
    import webuiapi
except ImportError as e:
    skip("the webuiapi client is not installed (%s); run scripts/test-clients.sh" % e)


def check(condition, what, got=None):
    if not condition:
        raise AssertionError("%s (got %r)" % (what, got))
    print("ok: " + what)


def start_server(exe, plugins, source, work, token=None):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    config = os.path.join(work, "serve.toml")
    server_extra = ""
    if token:
        with open(os.path.join(work, "token.txt"), "w") as f:
            f.write(token + "\n")
        server_extra = 'token_file = "token.txt"\n'
    with open(config, "w") as f:
        f.write(
            '[runtime]\nstate_dir = "%s/state"\noutput_dir = "%s/out"\n[plugins]\nsearch_path = ["%s"]\n'
            '[model]\npath = "%s/models/ftdr-shapes"\n[backend]\nplugin = "libtorch"\n[backend.libtorch]\n'
            'device = "cpu"\n[server]\nlisten = "127.0.0.1:0"\n%s[generate]\nwidth = 64\nheight = 64\n'
            % (work, work, plugins, source, server_extra))
    server = subprocess.Popen([exe, "serve", "--config", config], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    prefix = "ftdr serve: listening on http://127.0.0.1:"
    if not line.startswith(prefix):
        server.kill()
        raise AssertionError("ftdr serve did not start: %r" % line)
    port = int(line[len(prefix):].strip())
    check(server.stdout.readline().strip() == "ftdr serve: ready", "the demo model loaded")
    threading.Thread(target=server.stdout.read, daemon=True).start()  # never blocks the server
    return server, port


def client_error(call):
    """The (status, body) a webuiapi call raised for a refusal."""
    try:
        call()
    except RuntimeError as e:
        return e.args[0], e.args[1]
    raise AssertionError("the call was not refused")


def check_txt2img(api):
    r = api.txt2img(prompt="a red circle", seed=1234, steps=4, sampler_name="Euler a", width=64,
                    height=64, batch_size=2, cfg_scale=7)
    check(len(r.images) == 2, "batch_size=2 gives 2 images", len(r.images))
    check(all(i.size == (64, 64) for i in r.images), "the images are 64x64", [i.size for i in r.images])
    check(r.info["seed"] == 1234 and r.info["all_seeds"] == [1234, 1235], "seeds are seed, seed+1",
          r.info["all_seeds"])
    check(r.info["sampler_name"] == "Euler a", "info names the sampler as A1111 does", r.info["sampler_name"])
    check("Seed: 1235" in r.info["infotexts"][1] and "Sampler: Euler a" in r.info["infotexts"][1],
          "infotexts are A1111's parameters text", r.info["infotexts"])
    check("restore_faces" in r.info["ignored"] and "enable_hr" in r.info["ignored"],
          "fields FTDR does not use are listed as ignored", r.info["ignored"])
    check(r.parameters["seed"] == 1234 and r.parameters["batch_size"] == 2, "parameters echo the request",
          r.parameters)
    check(r.images[0].tobytes() != r.images[1].tobytes(), "the two seeds give different images")
    again = api.txt2img(prompt="a red circle", seed=1234, steps=4, sampler_name="Euler a", width=64,
                        height=64, batch_size=2, cfg_scale=7)
    check([i.tobytes() for i in again.images] == [i.tobytes() for i in r.images],
          "the same seed gives identical pixels")
    iters = api.txt2img(prompt="a blue square", seed=-1, steps=2, n_iter=2, batch_size=1,
                        sampler_name="DPM++ 2M Karras", width=64, height=64)
    seed = iters.info["seed"]
    check(len(iters.images) == 2 and seed >= 0 and iters.info["all_seeds"] == [seed, seed + 1],
          "seed -1 is drawn, reported, and continues across n_iter", iters.info["all_seeds"])
    check(iters.parameters["seed"] == -1, "parameters echo seed -1 as sent", iters.parameters["seed"])


def check_refusals(api):
    status, body = client_error(lambda: api.txt2img(prompt="x", steps=2, sampler_name="Heun"))
    check(status == 404 and "Sampler not found: 'Heun'" in body, "an unknown sampler is refused naming it",
          (status, body))
    status, body = client_error(lambda: api.txt2img(prompt="x", steps="many"))
    detail = json.loads(body)["detail"][0]
    check(status == 422 and detail["loc"] == ["body", "steps"], "a wrong type is 422 naming the field",
          (status, body))
    status, body = client_error(lambda: api.txt2img(prompt="x", steps=2, width=63, height=64))
    check(status == 422 and json.loads(body)["detail"][0]["loc"] == ["body", "width"],
          "an out-of-range value is 422 naming the field", (status, body))


def check_listings(api):
    samplers = api.get_samplers()
    names = [s["name"] for s in samplers]
    check(set(names) == {"Euler a", "Euler", "DPM++ 2M", "DPM++ 2M Karras", "DDIM", "PLMS", "LMS"},
          "get_samplers lists A1111's names", names)
    euler_a = samplers[names.index("Euler a")]
    check(euler_a["aliases"] == ["k_euler_a", "k_euler_ancestral"] and isinstance(euler_a["options"], dict),
          "samplers have A1111's aliases and options", euler_a)
    models = api.get_sd_models()
    check(len(models) == 1 and models[0]["model_name"] == "ftdr-shapes" and
          set(models[0]) == {"title", "model_name", "hash", "sha256", "filename", "config"},
          "get_sd_models lists the served model in A1111's shape", models)
    options = api.get_options()
    check(options["sd_model_checkpoint"] == models[0]["title"], "options name the checkpoint", options)
    check(api.set_options({"sd_model_checkpoint": models[0]["title"], "jpeg_quality": 80}) is None,
          "set_options accepts the served model and ignores unknown options")
    refused = api.set_options({"sd_model_checkpoint": "other.safetensors"})
    check("other.safetensors" in refused["detail"], "set_options refuses another model naming it", refused)


def check_progress_and_interrupt(api):
    idle = api.get_progress()
    check(idle["progress"] == 0 and idle["state"]["job_count"] == 0 and idle["current_image"] is None,
          "get_progress is idle before a call", idle)
    result = {}
    call = threading.Thread(target=lambda: result.update(
        r=api.txt2img(prompt="a long one", seed=5, steps=1000, n_iter=3, width=64, height=64)))
    call.start()
    progress = idle
    for _ in range(6000):  # until the first job is sampling (the call takes far longer)
        progress = api.get_progress()
        if progress["state"]["sampling_step"] > 0:
            break
        time.sleep(0.005)
    check(progress["state"]["sampling_step"] > 0 and progress["state"]["sampling_steps"] == 1000 and
          progress["state"]["job_count"] == 3 and 0 < progress["progress"] < 1,
          "get_progress follows the running call", progress)
    api.interrupt()
    call.join()
    check(result["r"].images == [], "interrupt stops the call before any image", len(result["r"].images))
    after = api.get_progress()
    check(after["state"]["interrupted"] is True and after["state"]["job_count"] == 0,
          "get_progress reports the interruption", after)


def check_token(exe, plugins, source, work):
    """With [server] token_file the A1111 routes need the bearer token like the native API."""
    server, port = start_server(exe, plugins, source, work, token="s3cret")
    try:
        api = webuiapi.WebUIApi(host="127.0.0.1", port=port, sampler="Euler a", steps=2)
        status, body = client_error(lambda: api.txt2img(prompt="x", width=64, height=64))
        check(status == 401, "without the token txt2img is 401", (status, body))
        api.session.headers["Authorization"] = "Bearer s3cret"
        r = api.txt2img(prompt="x", seed=3, width=64, height=64)
        check(len(r.images) == 1 and r.info["all_seeds"] == [3], "with the bearer token txt2img works",
              r.info["all_seeds"])
    finally:
        server.terminate()
        server.wait()


def main():
    exe, plugins, source, work = sys.argv[1:5]
    if not os.path.exists(os.path.join(plugins, "ftdr_plugin_libtorch.so")):
        skip("no libtorch plugin in %s (not built yet, or a build without libtorch)" % plugins)
    server, port = start_server(exe, plugins, source, work)
    try:
        api = webuiapi.WebUIApi(host="127.0.0.1", port=port, sampler="Euler a", steps=4)
        check_txt2img(api)
        check_refusals(api)
        check_listings(api)
        check_progress_and_interrupt(api)
        jobs = json.load(urllib.request.urlopen("http://127.0.0.1:%d/v1/jobs" % port))["jobs"]
        check(len(jobs) >= 5, "txt2img jobs went through the native queue and journal", len(jobs))
    finally:
        server.terminate()
        server.wait()
    check_token(exe, plugins, source, work + "-token")
    print("all checks passed")


if __name__ == "__main__":
    main()
