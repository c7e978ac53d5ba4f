"""The whole configuration tree. Every tunable number of the project lives here, with its default.

Presets (`vidmusician/configs/<name>.yaml`) only override these defaults; `key=value` on the command line
overrides the preset. Unknown keys and wrong types are rejected by omegaconf's structured merge.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Dict, List, Optional


class Precision(str, Enum):
    """Numeric precision of every model forward (vidmusician/models/precision.py says what runs how)."""
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


@dataclass
class StorageConfig:
    # S3 endpoint override; None falls back to the AWS_ENDPOINT_URL env var, then to AWS itself.
    endpoint_url: Optional[str] = None
    region: Optional[str] = None
    # botocore "standard" retry mode: exponential backoff with jitter on throttling and 5xx.
    max_attempts: int = 5
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    # Path-style addressing works with every S3-compatible server (SeaweedFS, moto, MinIO).
    addressing_style: str = "path"


@dataclass
class RetryConfig:
    """Infrastructure faults on one input (storage, network, out of memory, a lost worker; see
    vidmusician/faults.py): retried within the run, then recorded as not done for the next run."""
    # Tries per input and stage, the first included (on top of botocore's own quick retries).
    attempts: int = 4
    # Wait before a retry: random, up to backoff_s * 2^try, capped at max_backoff_s.
    backoff_s: float = 2.0
    max_backoff_s: float = 60.0
    # The job stops (exit 1, naming the cause) when this many inputs in a row end not done: an
    # unreachable bucket would otherwise record every input of the night. 0 never stops.
    stop_after_not_done: int = 16


@dataclass
class WeightsConfig:
    """Where the pretrained weights come from (vidmusician/weights.py)."""
    # A directory or s3:// prefix holding one folder per hub id (<location>/facebook/musicgen-small/...),
    # filled once by jobs/fetch_weights.py. Set, every hub id in the config loads from there and nothing
    # calls the hub; null loads hub ids from the Hugging Face hub (and its cache).
    location: Optional[str] = None
    # This node's copies of models read from s3:// folders, one folder per model folder.
    cache_dir: str = "~/.cache/vidmusician/weights"


@dataclass
class WorldConfig:
    """The synthetic world: short videos whose visual events and musical hits are known."""
    num_videos: int = 8
    seed: int = 0
    duration_s: float = 4.0
    fps: int = 25
    width: int = 96
    height: int = 96
    sample_rate: int = 16000
    # Scene classes: each has its own palette / shapes / motion style and its own instrument.
    classes: List[str] = field(default_factory=lambda: ["bass", "arpeggio", "bell"])
    tempos_bpm: List[float] = field(default_factory=lambda: [90.0, 120.0, 150.0])
    # Fraction of beats without a hit, and the shortest gap between two hits.
    drop_prob: float = 0.25
    min_gap_s: float = 0.4
    # Note lengths of the melodic line, in seconds.
    note_min_s: float = 0.25
    note_max_s: float = 0.5
    # False writes the "AI-generated" flavour: video only, no audio track.
    with_audio: bool = True
    # Loudness of tonal line and hits (linear peak).
    tone_gain: float = 0.25
    hit_gain: float = 0.6
    video_crf: int = 18
    audio_bitrate: int = 96000


@dataclass
class CodecArch:
    """Architecture of a compression model built from scratch (audiocraft EncodecModel, SEANet + RVQ)."""
    sample_rate: int = 16000
    channels: int = 1
    n_filters: int = 4
    dimension: int = 32
    # Product of ratios is the hop: 320 samples at 16 kHz = 50 Hz, MusicGen's token rate.
    ratios: List[int] = field(default_factory=lambda: [8, 5, 4, 2])
    lstm: int = 0
    n_q: int = 4
    bins: int = 128


@dataclass
class LMArch:
    """Architecture of a MusicGen LM built from scratch (audiocraft LMModel, delay pattern)."""
    dim: int = 32
    num_heads: int = 2
    num_layers: int = 4
    hidden_scale: int = 2
    # Lookup-table conditioner standing in for T5 text conditioning (no weights to download).
    lut_bins: int = 16
    cfg_dropout: float = 0.2
    # MusicGen's own window; also fixes max_duration (which must exceed the 18 s extend stride).
    segment_duration: float = 30.0


@dataclass
class MusicGenConfig:
    # Hub id (facebook/musicgen-small) or local directory in MusicGen's release format
    # (state_dict.bin + compression_state_dict.bin). None builds `codec` + `lm` with random weights.
    pretrained: Optional[str] = None
    codec: CodecArch = field(default_factory=CodecArch)
    lm: LMArch = field(default_factory=LMArch)
    # The LM's cross-attention condition that the visual tokens stand in for.
    cross_attention_key: str = "description"


@dataclass
class ClipConfig:
    # Hub id (openai/clip-vit-base-patch32) or local dir; None builds a random CLIP from the fields below.
    pretrained: Optional[str] = None
    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 64
    image_size: int = 32
    patch_size: int = 8


@dataclass
class T5Config:
    # Hub id (t5-base) or local dir; None builds a random T5 encoder from the fields below.
    pretrained: Optional[str] = None
    d_model: int = 32
    d_kv: int = 16
    d_ff: int = 64
    num_layers: int = 2
    num_heads: int = 2
    # Unused by the visual path (it feeds inputs_embeds) but part of a real T5's weights.
    vocab_size: int = 32


@dataclass
class LoraConfig:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: List[str] = field(default_factory=lambda: ["q", "v"])


@dataclass
class SemanticConfig:
    """Global path: CLS tokens at `fps` -> embedding manager -> LoRA-T5 -> projector -> cross-attention."""
    fps: float = 1.0
    # Sinusoidal time embedding added to each visual token, so T5 sees when the frame was taken.
    time_embedding: bool = True
    time_embedding_max_period: float = 10000.0
    lora: LoraConfig = field(default_factory=LoraConfig)


@dataclass
class RhythmConfig:
    """Local path: patch-token change at `fps` -> LM frame rate -> in-attention before early blocks."""
    fps: float = 25.0
    # Fraction of the LM's blocks (from the first) that receive the rhythm features.
    block_fraction: float = 0.75
    # Per-frame reduction of the per-patch distances 1 - cos(p_t, p_t-1): "mean" or "mean_max".
    reduction: str = "mean_max"
    # Offsets (in LM frames) of the curve values stacked into each position's input: the delay
    # pattern makes position s emit codebook q for frame s - q, so it sees frames s-3..s+2.
    context_before: int = 3
    context_after: int = 2


@dataclass
class ModelConfig:
    musicgen: MusicGenConfig = field(default_factory=MusicGenConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    t5: T5Config = field(default_factory=T5Config)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    rhythm: RhythmConfig = field(default_factory=RhythmConfig)
    # Probability of dropping the visual conditions in training (classifier-free guidance).
    cond_dropout: float = 0.2
    # Stage 2 also keeps training the semantic path (True) or freezes it at stage 1's weights (False).
    stage2_trains_semantic: bool = True


@dataclass
class GenerationConfig:
    cfg_coef: float = 3.0
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0
    use_sampling: bool = True
    # A text prompt (style, mood, instruments) beside every video's condition (models/prompts.py);
    # a manifest's `prompt` column overrides it per video. None: the video alone.
    prompt: Optional[str] = None
    # Sliding window over long videos: each window is `window_s` long and starts with the last
    # `context_s` of music already made as its prompt.
    window_s: float = 30.0
    context_s: float = 10.0
    # Videos per generation batch (windows of several videos share one batched CFG forward).
    batch_size: int = 8
    # The codec turns a video's tokens into audio `codec_chunk_s` at a time, each chunk decoded with
    # `codec_margin_s` of tokens on both sides and cropped: memory stays flat however long the video,
    # and the seams match one whole decode to float precision (the decoder's LSTM forgets within it).
    codec_chunk_s: float = 30.0
    codec_margin_s: float = 1.0
    # Static-shape decoding over a KV cache allocated once per window (models/static_decoding.py):
    # the same tokens as audiocraft's streaming decoder (false), and on CUDA each step is a replayed
    # CUDA graph (`cuda_graphs`). Measured: 6-13x the streaming throughput on an H200, 2.5x on CPU.
    fast: bool = True
    cuda_graphs: bool = True
    # Attention lengths are rounded up to multiples of this: one CUDA graph per multiple in a window.
    graph_bucket_steps: int = 128


@dataclass
class VideoConfig:
    """The per-video layer both pipelines share (vidmusician/video/): what counts as an input video."""
    # Files under an input prefix with these suffixes are the job's inputs.
    suffixes: List[str] = field(default_factory=lambda: [".mp4", ".mov", ".mkv", ".webm", ".avi"])
    # Inputs shorter than this are error rows ("too short").
    min_duration_s: float = 1.0
    # Inputs longer than this are error rows ("too long"): both jobs decode window by window, so this
    # bounds the time a video takes, not the memory.
    max_duration_s: float = 600.0
    # The decoder runs in a child process (video/isolation.py); one that yields nothing for this long
    # is killed and the video is an error row ("decoder timed out"), as is one that crashes.
    decode_timeout_s: float = 120.0
    # Seconds of frames the decoder hands over at a time: what memory holds of a video.
    decode_chunk_s: float = 2.0
    # Test hook only: {text in an input's URI: "hang" | "crash"} makes the decoder process of those
    # inputs hang or crash, to show the time limit and the isolation on a real run. Empty otherwise.
    fault_injection: Dict[str, str] = field(default_factory=dict)


@dataclass
class ExtractConfig:
    """The feature-extraction job (object storage -> CPU decode -> GPU features -> Parquet)."""
    # Training windows: length and hop in seconds; the last partial window is kept, padded and masked.
    window_s: float = 4.0
    hop_s: float = 4.0
    # A window whose audio RMS is below this (dBFS) is dropped as silent; a video left with none is an error.
    silence_dbfs: float = -50.0
    # Music loudness normalisation target (ITU-R BS.1770 integrated loudness); null disables it.
    target_lufs: Optional[float] = -14.0
    # Vocal removal before encoding: "none", or "demucs" with `separation_model` a local checkpoint.
    separation: str = "none"
    separation_model: Optional[str] = None
    # Decode stage (CPU tasks; a task decodes with as many FFmpeg threads as CPUs).
    decode_num_cpus: float = 1.0
    # Extra Ray resources a decode task needs, e.g. {cpu_pool: 1} to keep decoding on the CPU nodes
    # that advertise `cpu_pool` (cluster/kuberay/raycluster.yaml); empty = any node with a free CPU.
    decode_resources: Dict[str, float] = field(default_factory=dict)
    # Feature stage (actor pool; GPU when feature_num_gpus > 0, else CPU).
    feature_num_gpus: float = 0.0
    feature_num_cpus: float = 1.0
    # Extra Ray resources a feature actor needs (e.g. the accelerator group's own resource).
    feature_resources: Dict[str, float] = field(default_factory=dict)
    # Actor pool size: Ray Data starts min and adds actors while work waits, up to max; null = as many
    # as the cluster has (or its autoscaler can add) GPUs / resources for.
    feature_actors_min: int = 1
    feature_actors_max: Optional[int] = 1
    feature_batch_size: int = 4
    clip_batch_frames: int = 256
    # Windows per output Parquet shard.
    shard_windows: int = 64


@dataclass
class RayConfig:
    # null starts a local Ray; "auto" joins the cluster the job was submitted to.
    address: Optional[str] = None
    # Logical CPUs of a local Ray (more than the cores, so decode tasks and actors do not starve).
    num_cpus: Optional[int] = None
    # Torch threads inside each Ray worker (oversubscribed OpenMP threads spin against each other).
    torch_threads: int = 1
    # glibc's malloc threshold (bytes) above which a block is mapped on its own and returned when freed.
    # glibc raises it after freeing a large block (up to 32 MiB), so frame chunks (megabytes) then come
    # from a heap that fragments and keeps its pages: a generation actor grew from 0.9 GB to 3.3 GB
    # decoding a 10-minute video; fixed at 4 MiB it stays at 0.9 GB. (128 KiB bounds it as well but
    # maps torch's activations too: a CPU training step took 1.7x as long; 4 MiB costs nothing
    # measurable.) Set as MALLOC_MMAP_THRESHOLD_ for every worker of the job; null: glibc's default.
    malloc_mmap_threshold: Optional[int] = 4194304


@dataclass
class ToyConfig:
    """Pretraining the toy backbone (a tiny MusicGen of our own) on the synthetic world's music."""
    # Where jobs/build_toy_backbone.py writes: by default the build shipped in the package (rebuild it
    # there, and commit it, when the settings below, the world's music or the toy architecture change).
    output_dir: str = "embedded:toy-backbone"
    # Builds for runs whose settings differ from the shipped build's, one folder per settings hash.
    cache_dir: str = "~/.cache/vidmusician/toy-backbones"
    seed: int = 0
    codec_clips: int = 400
    codec_minutes: float = 10.0
    codec_batch: int = 8
    codec_crop_s: float = 1.0
    codec_lr: float = 1e-3
    # Weight of the waveform L1 against the multi-resolution mel L1 (notes: 1 keeps classes, 20 SNR).
    codec_l1_weight: float = 5.0
    mel_fft_sizes: List[int] = field(default_factory=lambda: [64, 128, 256, 512, 1024, 2048])
    mel_bins: int = 64
    lm_clips: int = 1500
    lm_minutes: float = 5.0
    lm_batch: int = 16
    lm_lr: float = 3e-3
    # Held-out clips for the build report (codec SNR, hit F1 of decoded vs original).
    eval_clips: int = 24


@dataclass
class LossConfig:
    """What the adapters are trained to minimise (issue #18): the cross-entropy of the music's tokens
    under the LM as generation reads it, not the conditional LM alone.
    - `guidance`: the logits are null + guidance * (conditional - null), CFG with this coefficient (1:
      the conditional LM alone). The null branch is the frozen backbone with no condition (no gradient).
      Trained with the plain loss, a condition is free to move the LM far in directions the loss barely
      charges for; generation's CFG then amplifies those, and the class a scene should pick is lost.
      Match it to generation.cfg_coef.
    - `start_frames` / `start_weight`: the first frames of each window weigh this much more. There the
      music has no past, so only the condition can say what comes (its class); later frames mostly
      follow their own past. Generation starts every video there.
    - `input_noise`: this fraction of the LM's input tokens is replaced by random ones (the targets stay),
      in training only. With its past less reliable the LM leans on the condition everywhere, so the
      condition learns to keep the music in its class, as generation needs when its own first tokens
      could belong to either of two classes."""
    guidance: float = 3.0
    start_frames: int = 10
    start_weight: float = 20.0
    input_noise: float = 0.3


@dataclass
class StageSchedule:
    """Optimisation of one training stage: AdamW, linear warm-up then cosine decay to min_lr_ratio * lr,
    on the stage's objective."""
    steps: int = 40
    lr: float = 1e-3
    warmup_steps: int = 5
    loss: LossConfig = field(default_factory=LossConfig)


@dataclass
class TrainConfig:
    """The two-stage adapter trainer (Ray Train, DDP)."""
    # The feature dataset: the extract job's output (features/*.parquet + outcomes.parquet). Empty:
    # train from the videos of `input` (a folder, prefix or manifest, as the other jobs take it).
    features: str = ""
    # Training from videos, where their windows go: "object_store" (decoded and featurised once into
    # Ray's object store, for both stages and every epoch) or "storage" (the extract job's shards under
    # <output>/features, which later runs can reuse as train.features).
    video_features: str = "object_store"
    # "1", "2" or "both" (stage 2 starts from stage 1's final adapters).
    stage: str = "both"
    # Stage 2 run on its own starts from these adapters (a stage-1 export); null = from scratch.
    init_adapters: Optional[str] = None
    # Name of the run; null makes a unique one. Passing an existing run's name resumes it.
    run_name: Optional[str] = None
    # Where Ray Train keeps checkpoints (local path or s3://); null = <output>/checkpoints.
    storage_path: Optional[str] = None
    num_workers: int = 2
    use_gpu: bool = False
    # Fractional CPUs: whole-CPU workers on a small node starve the Ray Data stage that feeds them.
    cpus_per_worker: float = 0.5
    # Torch threads per training worker (training runs after extraction, so one worker may use more).
    torch_threads: int = 1
    # Windows per worker per micro-batch; a step accumulates grad_accum_steps micro-batches, so the
    # effective batch is batch_size * grad_accum_steps * num_workers windows.
    batch_size: int = 4
    grad_accum_steps: int = 1
    # Extra Ray resources each training worker needs, e.g. {accel: 1} to put one rank per node of a
    # group advertising `accel` (use_gpu asks for a GPU itself).
    worker_resources: Dict[str, float] = field(default_factory=dict)
    stage1: StageSchedule = field(default_factory=StageSchedule)
    # Stage 2 trains on stage 1's objective with more input noise: the less the LM can trust its own
    # past, the more it places its hits where the rhythm features say. On the proof, stage 2's onset
    # F1 was 0.55 without noise, 0.87 at 0.3 and 0.98 at 0.7 (README, "Learning proof").
    stage2: StageSchedule = field(default_factory=lambda: StageSchedule(loss=LossConfig(input_noise=0.7)))
    weight_decay: float = 0.01
    betas: List[float] = field(default_factory=lambda: [0.9, 0.99])
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    # Held-out split, by video (never by window): this fraction of the videos, at least one.
    val_fraction: float = 0.2
    val_every: int = 20
    checkpoint_every: int = 20
    # Ray keeps the last N checkpoints; the best adapters by validation loss are exported beside them.
    keep_checkpoints: int = 2
    max_failures: int = 2
    log_every: int = 5
    shuffle_buffer: int = 64
    # Keep the training split in Ray's object store after the first read (no re-read per epoch);
    # false streams every epoch from storage, for datasets larger than the object store.
    cache_dataset: bool = True
    # Fault injection for tests: the last worker dies once at this step (null = never), this long after
    # reporting it: two of Ray Train's health-check polls (RAY_TRAIN_HEALTH_CHECK_INTERVAL_S, 2 s by
    # default), so the checkpoint it reported is registered before it dies.
    fail_at_step: Optional[int] = None
    fail_wait_s: float = 4.0


@dataclass
class ProofConfig:
    """The learning proof: a training world, the two stages, then held-out videos scored per seed."""
    train_videos: int = 240
    world_seed: int = 100
    stage1_steps: int = 300
    stage2_steps: int = 200
    # Validation and checkpoints every this many steps (the demo's preset does both more often).
    eval_every: int = 100
    heldout_videos: int = 24
    heldout_seed: int = 999
    # Real world clips the music classifier is fit on.
    classifier_clips: int = 150
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])


@dataclass
class ScoresConfig:
    """Per-video scores of the soundtracking job (metrics/video_scores.py, metrics/flow_beats.py)."""
    # Davis & Agrawala style flow beats: Farneback optical flow on grey frames of this size,
    # binned by direction into a directogram of `flow_bins` bins.
    flow_size: int = 64
    flow_bins: int = 32
    # Scores that need model weights (FAD, KL, ImageBind-style): scorer name -> weights (hub id or
    # local dir). Unconfigured scores are absent (null) in the table, never zero.
    model_scores: Dict[str, str] = field(default_factory=dict)


@dataclass
class PublishConfig:
    """What the soundtracking job does to the music before it is muxed (vidmusician/publish/)."""
    # Loudness: a platform's target and true-peak ceiling (publish/loudness.py PLATFORMS: streaming
    # -14 LUFS / -1 dBTP, apple -16 / -1, ebu_r128 -23 / -1, atsc_a85 -24 / -2); a value set below
    # overrides the platform's. Both the music and the final mix are normalised.
    platform: str = "streaming"
    target_lufs: Optional[float] = None
    true_peak_dbtp: Optional[float] = None
    # Within this of the target counts as reached.
    tolerance_lu: float = 0.5
    # FFmpeg's look-ahead limiter, used only where the gain would cross the ceiling.
    limiter_attack_ms: float = 5.0
    limiter_release_ms: float = 50.0
    # Fades: in over `fade_in_s`; out over about `fade_out_s`, ending with the last frame and starting
    # on the music's nearest beat within `fade_beat_window_s` of the planned start; never more than
    # `fade_max_fraction` of a short video.
    fade_in_s: float = 0.1
    fade_out_s: float = 2.0
    fade_beat_window_s: float = 0.75
    fade_max_fraction: float = 0.25
    # What happens to the source's own audio (publish/mix.py): replace (music only), duck (the source's
    # audio kept, the music lowered under its speech), keep (a video whose own sound is music is left
    # as it is, no music made; other sound, speech or effects, is kept with the music ducked under its
    # speech), auto (speech -> duck, anything else -> replace). A video without audible sound is
    # always replace.
    mix_policy: str = "auto"
    # Ducking: the music goes down by `duck_depth_db` where the source speaks, starting `duck_attack_s`
    # before the speech and coming back over `duck_release_s` after it; pauses shorter than
    # attack + release stay ducked.
    duck_depth_db: float = 12.0
    duck_attack_s: float = 0.15
    duck_release_s: float = 0.5
    # Source audio quieter than this (integrated) counts as silent; at least `speech_min_s` of speech
    # (Silero VAD, probability >= `vad_threshold`) counts as speech.
    silence_lufs: float = -60.0
    speech_min_s: float = 0.5
    vad_threshold: float = 0.5
    # Under `keep`, whether a source's sound is music (publish/music.py): an AudioSet audio classifier
    # in transformers' format (hub id or local dir; the GPU presets name MIT's AST), run over windows of
    # `music_window_s`. A source is music when at least `music_min_fraction` of its windows give one of
    # `music_labels` a probability >= `music_threshold`. None: no classifier, and under `keep` any
    # sound that is not speech counts as music.
    music_detector: Optional[str] = None
    music_labels: List[str] = field(default_factory=lambda: ["Music"])
    music_threshold: float = 0.5
    music_window_s: float = 10.0
    music_min_fraction: float = 0.5


@dataclass
class SoundtrackConfig:
    """The nightly bulk soundtracking job (jobs/soundtrack.py)."""
    # Adapters to load (a training run's export, any URI); null = the base model with null visual
    # conditions, for comparison.
    adapters: Optional[str] = None
    # Generation actor pool: each actor loads backbone, CLIP and adapters once, and decodes each video
    # (its decoder process uses as many FFmpeg threads as the actor has CPUs).
    # Pool size min..max as for extract.feature_actors_*; null max = every GPU the cluster can give.
    actors_min: int = 1
    actors_max: Optional[int] = 1
    num_gpus: float = 0.0
    num_cpus: float = 1.0
    # Extra Ray resources per generation actor (e.g. a custom accelerator resource).
    actor_resources: Dict[str, float] = field(default_factory=dict)
    # CPU tasks: prepare (download, hash, probe) and write (mux, scores) each video.
    decode_num_cpus: float = 1.0
    write_num_cpus: float = 1.0
    # Extra Ray resources of those CPU tasks, e.g. {cpu_pool: 1} to keep them on the CPU nodes.
    cpu_resources: Dict[str, float] = field(default_factory=dict)
    # The output's video stream is copied when its codec is one of these (an mp4 carries it and the
    # major browsers play it; its timing and rotation are kept), else re-encoded to H.264 at x264's
    # constant quality `reencode_crf` and `reencode_preset`, frames upright (vidmusician/mux.py).
    copy_codecs: List[str] = field(default_factory=lambda: ["h264", "hevc", "av1", "vp9"])
    reencode_crf: int = 18
    reencode_preset: str = "medium"
    # Outcomes are flushed to storage every this many videos or seconds (what a killed run keeps).
    flush_every: int = 64
    flush_s: float = 60.0
    # A rerun retries inputs that ended in an error (false: an error is an outcome like any other).
    retry_errors: bool = False
    # Seconds between progress lines.
    progress_every_s: float = 10.0
    # Review page: the score the "worst first" button sorts by.
    review_sort_key: str = "onset_f1_70ms"
    # Best of N: `candidates` pieces of music per video, made in the same batched steps with different
    # seeds (the first is the one N = 1 makes); the write stage scores each and keeps the best by
    # `select_by` (a rhythm score, higher is better) among those that pass the sanity checks (at most
    # `max_clipped_fraction` of samples at full scale, integrated loudness above `min_music_lufs`).
    candidates: int = 1
    select_by: str = "onset_f1_70ms"
    max_clipped_fraction: float = 0.001
    min_music_lufs: float = -45.0
    scores: ScoresConfig = field(default_factory=ScoresConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)


@dataclass
class Config:
    preset: str = "debug"
    # Top-level contract shared by every job.
    input: str = ""
    output: str = "outputs/demo"
    seed: int = 0
    device: str = "cpu"
    # fp32, bf16 or fp16, for generation, features, evaluation and training, on any device.
    precision: Precision = Precision.fp32
    storage: StorageConfig = field(default_factory=StorageConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    # One section per job: make_world, extract_features, build_toy_backbone, train, the learning
    # proof, soundtrack (generation: how the music is sampled, by the soundtracking job and the proof).
    world: WorldConfig = field(default_factory=WorldConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    toy: ToyConfig = field(default_factory=ToyConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    proof: ProofConfig = field(default_factory=ProofConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    soundtrack: SoundtrackConfig = field(default_factory=SoundtrackConfig)
