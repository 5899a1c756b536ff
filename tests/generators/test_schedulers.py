"""Sampler names as WebUI shows them, both ways: accepted on input, written
into PNG Info as WebUI 1.9+ writes them, and read back by audit import."""

import pytest

from audit.errors import UsageError
from audit.generators.schedulers import check_scheduler, resolve_scheduler, webui_label


@pytest.mark.parametrize("given, ours", [
    ("Euler a", "euler_a"), ("euler a", "euler_a"), ("EULER_A", "euler_a"),
    ("DPM++ 2M Karras", "dpm++_2m_karras"), ("dpm++ 2m karras", "dpm++_2m_karras"),
    ("DPM++ 2M SDE", "dpm++_2m_sde"), ("DPM++ 2M SDE Karras", "dpm++_2m_sde_karras"),
    ("DDIM", "ddim"), ("ddim", "ddim"), ("UniPC", "unipc"), ("PLMS", "pndm"),
    ("dpm++_2m", "dpm++_2m"), ("default", "default"), ("k_euler", "euler"),
])
def test_webui_and_our_names_are_accepted(given, ours):
    assert check_scheduler(given) == ours


def test_sampler_plus_schedule_type_as_webui_1_9_writes_them():
    assert resolve_scheduler("DPM++ 2M", "Karras") == "dpm++_2m_karras"
    assert resolve_scheduler("Euler", "Automatic") == "euler"
    assert resolve_scheduler("Euler", "Exponential") is None  # not one we can build


def test_a_typo_gets_the_webui_spelling_suggested():
    with pytest.raises(UsageError, match="did you mean 'DPM\\+\\+ 2M Karras'"):
        check_scheduler("DPM++ 2M Karas")


def test_the_png_says_what_webui_would_and_import_reads_it_back(tmp_path, tiny_generator):
    from audit.generators.schedulers import SCHEDULERS
    from audit.importing.metadata import read_metadata
    from audit.rundir.pngmeta import a1111_parameters
    from audit.stages.generate import _schedule_type

    request = {"prompt": "p", "negative_prompt": "", "steps": 2, "guidance": 5.0, "seed": 1,
               "width": 32, "height": 32}
    tiny_generator.set_scheduler("DPM++ 2M Karras")
    label = tiny_generator.sampler_label()
    assert label == "DPM++ 2M Karras"
    text = a1111_parameters(request, sampler=label, schedule_type=_schedule_type(label),
                            model="m", model_hash=None)
    assert "Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5" in text
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    Image.new("RGB", (32, 32)).save(tmp_path / "x.png", pnginfo=info)
    found = read_metadata(tmp_path / "x.png")
    assert resolve_scheduler(found.fields["sampler"], found.fields["schedule_type"]) == \
        "dpm++_2m_karras"
    tiny_generator.set_scheduler("default")
    class_name = type(tiny_generator.pipe.scheduler).__name__
    named = {c: s for c, _, s, t in SCHEDULERS.values() if not t}
    assert webui_label("default", tiny_generator.pipe.scheduler)[0] == named.get(class_name,
                                                                                class_name)
