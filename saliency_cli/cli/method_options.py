"""The attribution methods' options, each declared once with one help text: SmoothGrad's noise, LRP's rule
settings and max-pooling rule, and `evaluate`'s every method's settings as one `MethodOptions`.

Where a command qualifies an option (cam's noise applies only with --smooth; lrp refuses a setting that no rule
in use reads), the qualifier is an argument of the bundle; the option's type, default and text are not.
"""

from __future__ import annotations

import click

from .options import compose, given, packed, seed_option
from .params import Number

#: The help of `--noise-frac` and `--sigma`, the same in every command with SmoothGrad noise.
NOISE_FRAC_HELP = (
    "SmoothGrad noise as a fraction of the input's range: sigma = F x (max(x) - min(x)) (not a task's --noise level)."
)
SIGMA_HELP = "SmoothGrad noise as an absolute sigma (instead of --noise-frac)."


def samples_option(func):
    """--samples N: SmoothGrad's noisy copies."""
    return click.option(
        "--samples", type=click.IntRange(1, 100_000), default=16, show_default=True, help="SmoothGrad's noisy copies."
    )(func)


def noise_frac_option(when: str = ""):
    """--noise-frac F; `when` heads its help where it applies only sometimes ("With --smooth: ")."""
    return click.option(
        "--noise-frac", type=Number(0, 100), default=0.15, show_default=True, help=when + NOISE_FRAC_HELP
    )


def noise_options(when: str = ""):
    """--noise-frac / --sigma / --seed: SmoothGrad's noise (see `check_noise`)."""
    return compose(
        noise_frac_option(when),
        click.option("--sigma", type=Number(0, 1e6), default=None, help=when + SIGMA_HELP),
        seed_option(when + "Seed of SmoothGrad's noise."),
    )


def check_noise(ctx: click.Context, sigma: float | None) -> None:
    """--sigma and --noise-frac both set the noise's size: giving both is refused."""
    from ..errors import UserError

    if sigma is not None and given(ctx, "noise_frac"):
        raise UserError("give --sigma or --noise-frac, not both")


#: LRP's rule settings: name -> (type, default, help, when `lrp` refuses it).
_LRP_SETTINGS = {
    "eps": (
        Number(0, 1e6, min_open=True),
        1e-2,
        "Stabiliser eps of the epsilon, gamma and zbox rules (> 0)",
        "no rule in use reads it",
    ),
    "gamma": (Number(0, 1e6), 0.25, "Gamma of the gamma rule (>= 0; 0 is the epsilon rule)", "no gamma rule is in use"),
    "alpha": (
        Number(1, 1e6),
        2.0,
        "Alpha of the alpha-beta rule (>= 1); beta = alpha - 1",
        "no alpha-beta rule reads it",
    ),
}


def lrp_settings_options(refused: bool = False):
    """--eps / --gamma / --alpha; `refused`: the help says when the command refuses one (as `lrp` does)."""
    return compose(
        *(
            click.option(
                f"--{name}",
                type=kind,
                default=default,
                show_default=True,
                help=f"{text}; refused when {when}." if refused else f"{text}.",
            )
            for name, (kind, default, text, when) in _LRP_SETTINGS.items()
        )
    )


def pool_rule_option(func):
    """--pool-rule: LRP's rule for max-pooling layers."""
    from ..methods.lrp.pool import POOL_RULES

    rules = "; ".join(f"{name}: {cls.summary}" for name, cls in sorted(POOL_RULES.items()))
    return click.option(
        "--pool-rule",
        type=click.Choice(sorted(POOL_RULES)),
        default="winner",
        show_default=True,
        help=f"Rule for max-pooling layers ({rules}). Global average pooling is always proportional.",
    )(func)


def _method_options(samples, noise_frac, quadrature, ig_steps, baseline, eps, gamma, alpha, pool_rule, cam_layer,
                    seed, batch_size):  # fmt: skip
    from ..evaluation.methods import MethodOptions

    return MethodOptions(
        samples=samples, noise_frac=noise_frac, seed=seed, quadrature=quadrature, ig_steps=ig_steps, baseline=baseline,
        eps=eps, gamma=gamma, alpha=alpha, pool=pool_rule, cam_layer=cam_layer, batch_size=batch_size,
    )  # fmt: skip


def evaluation_method_options(func):
    """Every method's settings in `evaluate` (--samples ... --cam-layer), handed to the command as one
    `options: MethodOptions`, with --seed and --batch-size (which the command reads too)."""
    from ..evaluation.methods import MethodOptions
    from ..methods.integrated import QUADRATURES

    defaults = MethodOptions()
    return packed(
        "options",
        _method_options,
        samples_option,
        noise_frac_option(),
        click.option(
            "--quadrature",
            type=click.Choice(["auto", "exact", *QUADRATURES]),
            default="auto",
            show_default=True,
            help="IG integration. auto: exact where the network allows it and has at most 2048 relu/pooling units "
            "(blobs8x8, blobs6x6), else gauss-legendre with --ig-steps (blobs8x8-gap, whose exact paths have ~950 "
            "pieces).",
        ),
        click.option(
            "--ig-steps",
            type=click.IntRange(1, 100_000),
            default=defaults.ig_steps,
            show_default=True,
            help="IG steps K of a quadrature rule.",
        ),
        click.option(
            "--baseline", type=click.Choice(["zero", "mean"]), default="zero", show_default=True, help="IG baseline."
        ),
        lrp_settings_options(),
        pool_rule_option,
        click.option("--cam-layer", default=None, help="Layer of cam/gradcam/gradcam++.  [default: as `cam`]"),
        reads=("seed", "batch_size"),
    )(func)


#: The parameters of `evaluation_method_options`, for `evaluate --help`'s section.
EVALUATION_METHOD_OPTIONS = [
    *("samples", "noise_frac", "quadrature", "ig_steps", "baseline"),
    *("eps", "gamma", "alpha", "pool_rule", "cam_layer"),
]
