"""The contract every Generator passes: one result per request in order, at
the requested size, with a known status; the same request gives the same
pixels; provenance is JSON; backend options are declared."""

import json

import numpy as np
import pytest

from audit.api.generator import STATUSES, GenerationRequest, Generator


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

    assert len(GeneratorContract.__subclasses__()) == len(GENERATORS.names())
