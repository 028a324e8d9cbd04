"""generate with a tiny, randomly initialised Wan pipeline built here (no weights downloaded).

Needs the ``[generate]`` extra (torch + diffusers + transformers). `make install` installs
``.[test,worker]`` only, because torch is a ~200 MB wheel; where the extra is missing these tests
are reported as skipped (the op itself still reports a clear ``model_unavailable`` error, which
test_generate_without_a_model_is_a_clear_error checks everywhere).
"""

from __future__ import annotations

import threading
from pathlib import Path

import av
import pytest

from gpu_remote.client import GpuClient
from gpu_remote.models import JobSpec
from tests.gpu_remote.conftest import TOKEN, WorkerProc

TEXT = "a red ball rolls over green grass under a blue sky"


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted(set(TEXT.split()) | {"a", "cat", "dog"})
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def build_tiny_wan(folder: Path, *, image_to_video: bool, first_last: bool = False) -> Path:
    """Save a tiny random Wan (T2V or I2V) pipeline to ``folder``, as a real model folder would look."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=32, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, relative_attention_num_buckets=8
        )
    )
    common = dict(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(shift=7.0)
    if image_to_video:
        from transformers import CLIPVisionConfig, CLIPVisionModel
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

        # First/last-frame models see both CLIP embeddings as one sequence (Wan FLF2V's pos_embed_seq_len).
        extra = {"pos_embed_seq_len": 2 * (4 * 4 + 1)} if first_last else {}
        transformer = WanTransformer3DModel(in_channels=36, image_dim=4, **common, **extra)
        image_encoder = CLIPVisionModel(
            CLIPVisionConfig(
                hidden_size=4,
                projection_dim=4,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=4,
                intermediate_size=16,
                patch_size=1,
            )
        )
        pipe = WanImageToVideoPipeline(
            tokenizer=_tokenizer(),
            text_encoder=text_encoder,
            vae=vae,
            scheduler=scheduler,
            image_processor=CLIPImageProcessorPil(crop_size=4, size=4),
            image_encoder=image_encoder,
            transformer=transformer,
        )
    else:
        transformer = WanTransformer3DModel(in_channels=16, **common)
        pipe = WanPipeline(
            tokenizer=_tokenizer(), text_encoder=text_encoder, vae=vae, scheduler=scheduler, transformer=transformer
        )
    pipe.save_pretrained(folder)
    return folder


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_generate_without_a_model_is_a_clear_error(shared_worker: WorkerProc, tmp_path: Path) -> None:
    client = GpuClient(shared_worker.url, TOKEN, state_dir=tmp_path)
    job, _ = client.put_job("gen-no-model-1", JobSpec(op="generate", params={"prompt": "a cat", "num_frames": 9}))
    job = client.wait(job.id)
    assert job.state.value == "failed" and job.error is not None and job.error.code == "model_unavailable"


def test_text_to_video_returns_the_requested_frames(worker_factory, tmp_path: Path) -> None:
    pytest.importorskip("diffusers", reason="needs the [generate] extra (torch, diffusers)")
    model = build_tiny_wan(tmp_path / "tiny-wan-t2v", image_to_video=False)
    worker = worker_factory(env={"MONTAGE_GENERATE_MODEL": str(model)})
    client = worker.client(tmp_path / "state")
    params = {
        "prompt": TEXT,
        "num_frames": 9,
        "width": 16,
        "height": 16,
        "steps": 2,
        "fps": 8,
        "quality_gate": "report",
    }
    job, _ = client.put_job("gen-t2v-00001", JobSpec(op="generate", params=params))
    progress: list[float] = []
    job = client.wait(job.id, lambda ev: progress.append(ev.data["fraction"]) if ev.type == "progress" else None)
    assert job.state.value == "succeeded", job.error
    assert job.result["frames"] == 9 and job.result["pipeline"] == "WanPipeline"
    saved = client.fetch(job, tmp_path / "out", stem="ball")["video"]
    assert frame_count(saved) == 9
    assert progress and progress == sorted(progress)


@pytest.mark.parametrize("mode", ["i2v", "flf2v"])
def test_image_and_first_last_frame_to_video(mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("diffusers", reason="needs the [generate] extra (torch, diffusers)")
    from PIL import Image

    from gpu_remote.ops import OPS, OpContext
    from gpu_remote.ops.generate import GenerateParams

    model = build_tiny_wan(tmp_path / f"tiny-wan-{mode}", image_to_video=True, first_last=mode == "flf2v")
    first, last = tmp_path / "first.png", tmp_path / "last.png"
    Image.new("RGB", (16, 16), (200, 30, 30)).save(first)
    Image.new("RGB", (16, 16), (30, 30, 200)).save(last)
    inputs = {"image": first} if mode == "i2v" else {"image": first, "last_image": last}
    work = tmp_path / "work"
    work.mkdir()
    ctx = OpContext(
        job_id="local",
        attempt=1,
        inputs=inputs,
        work_dir=work,
        report=lambda f, s: None,
        cancel_event=threading.Event(),
    )
    monkeypatch.setenv("MONTAGE_GENERATE_MODEL", str(model))
    params = GenerateParams(mode=mode, prompt=TEXT, num_frames=5, width=16, height=16, steps=2, quality_gate="report")
    result = OPS["generate"].run(ctx, params)
    assert result.result["frames"] == 5 and result.result["pipeline"] == "WanImageToVideoPipeline"
    assert frame_count(result.outputs["video"]) == 5
