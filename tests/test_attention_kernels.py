"""The attention-kernel choice of repro/attention.py: no per-shape-planned cuDNN kernel on CUDA, nothing
changed on CPU, and the process's flags given back afterwards."""
import torch

from repro.attention import attention_kernels


def test_cuda_leaves_cudnn_attention_out_and_restores_the_flags():
    before = torch.backends.cuda.cudnn_sdp_enabled()
    with attention_kernels("cuda"):  # the flags are process settings: no card is needed to check them
        assert not torch.backends.cuda.cudnn_sdp_enabled()
        assert torch.backends.cuda.mem_efficient_sdp_enabled() and torch.backends.cuda.math_sdp_enabled()
    assert torch.backends.cuda.cudnn_sdp_enabled() == before


def test_cpu_changes_nothing():
    before = torch.backends.cuda.cudnn_sdp_enabled()
    with attention_kernels("cpu"):
        assert torch.backends.cuda.cudnn_sdp_enabled() == before
    with attention_kernels(torch.device("cpu")):
        pass
