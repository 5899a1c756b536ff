"""The contract every Generator passes: one result per request in order, at
the requested size, with a known status; the same request gives the same
pixels; provenance is JSON; backend options and optional capabilities are
declared (a hosted API is a ``HostedGenerator``, reachable as NAME:MODEL)."""

import json

import numpy as np
import pytest

from audit.api.generator import STATUSES, GenerationRequest, Generator, HostedGenerator


def requests(prompts=("a photo of a nurse", "a photo of a pilot"), seeds=(0, 1), size=32):
    return [GenerationRequest(f"{i}/{s}", p, "", s, 2, 5.0, size, size, "euler")
            for i, p in enumerate(prompts) for s in seeds]


class GeneratorContract:
    size = 32

    def make_generator(self) -> Generator:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    def generator(self):
        return self.make_generator()

    def test_one_result_per_request_in_order(self, generator):
        batch = requests(size=self.size)
        generator.prepare(batch[0])
        results = generator.generate(batch)
        assert [r.request for r in results] == batch
        for result in results:
            assert result.status in STATUSES
            if result.image is not None:
                assert result.image.size == (self.size, self.size)

    def test_same_request_same_pixels(self, generator):
        (first,) = generator.generate(requests(seeds=(3,), prompts=("a chef",), size=self.size))
        (again,) = generator.generate(requests(seeds=(3,), prompts=("a chef",), size=self.size))
        assert np.array_equal(np.asarray(first.image), np.asarray(again.image))

    def test_provenance_and_declarations(self, generator):
        generator.prepare(requests(size=self.size)[0])
        info = generator.describe()
        assert info["id"] and json.dumps(info)
        assert isinstance(generator.sampler_label(), str) and generator.sampler_label()
        assert all(isinstance(k, str) and h for k, h in type(generator).options.items())

    def test_declared_capabilities(self, generator):
        from audit.generators import GENERATORS, generator_class

        runtime = generator.runtime()
        assert runtime is None or json.dumps(runtime)
        if not isinstance(generator, HostedGenerator):
            return
        cls = type(generator)
        assert generator_class(f"{cls.name}:{cls.example_model}") is cls
        assert cls.name in GENERATORS.names()
        batch = requests(size=self.size)
        assert all(generator.price(r) >= 0 for r in batch)
        streamed = list(generator.iter_generate(batch))
        assert sorted(r.request.image_id for r in streamed) == sorted(r.image_id for r in batch)


class TestTiny(GeneratorContract):
    def make_generator(self):
        from audit.generators import make_generator

        return make_generator("tiny", device="cpu")


class TestToyworld(GeneratorContract):
    size = 64

    def make_generator(self):
        from audit.generators import make_generator

        return make_generator("toyworld", device="cpu")


class TestSavedFolder(GeneratorContract):
    """The diffusers backend on a pipeline folder saved with save_pretrained."""

    def make_generator(self):
        import tempfile
        from pathlib import Path

        from audit.generators import make_generator
        from audit.generators.tiny import build_random_pipeline

        folder = Path(tempfile.mkdtemp(prefix="saved-pipeline-"))
        build_random_pipeline().save_pretrained(folder)
        return make_generator(str(folder), device="cpu")


def test_every_registered_generator_has_a_contract_test():
    from audit.generators import GENERATORS

    classes = [c for c in GeneratorContract.__subclasses__() if c.__name__.startswith("Test")]
    classes += _RemoteContract.__subclasses__()
    assert len(classes) == len(GENERATORS.names())


class _RemoteContract(GeneratorContract):
    """An API backend against the local provider server (tests/generators)."""

    model = ""
    variables = ("", "")  # key, base URL
    suffix = ""

    def make_generator(self):
        import os

        from audit.generators import make_generator
        from tests.generators.provider_server import ProviderServer

        self.server = ProviderServer().__enter__()  # stops itself after its lifetime
        saved = {name: os.environ.get(name) for name in self.variables}
        os.environ.update({self.variables[0]: self.server.key,
                           self.variables[1]: self.server.url + self.suffix})
        try:
            return make_generator(self.model, options={"backoff": 0.01})
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


class TestOpenAI(_RemoteContract):
    size = 256  # one of dall-e-2's sizes: the image comes back at the requested size
    model = "openai:dall-e-2"
    variables = ("OPENAI_API_KEY", "OPENAI_BASE_URL")
    suffix = "/v1"


class TestStability(_RemoteContract):
    size = 64  # 1:1; the local server draws 64 px per ratio unit
    model = "stability:core"
    variables = ("STABILITY_API_KEY", "STABILITY_API_BASE")
