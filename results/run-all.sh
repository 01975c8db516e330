#!/bin/sh
# The commands that made the reports under results/ (2-core machine, wasm backend).
#
#   results/run-all.sh [stage ...]     (no stage: all of them, in this order)
#
# Every run is resumable: a report that exists (results.json) is skipped, and a compare or sweep
# that was interrupted continues from its per-run checkpoints (--resume). Long stages belong in
# the background:  nohup results/run-all.sh fashion_fig4 > results/logs/fashion_fig4.log 2>&1 &
# Fashion-MNIST needs Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist).
set -e
cd "$(dirname "$0")/.."
CLI="node --conditions=eva-tfjs-source --import tsx packages/experiments/src/cli/main.ts"

# run <out> <command and flags...>: skip a finished report, resume an interrupted one.
run() {
  out=$1
  shift
  if [ -f "$out/results.json" ]; then
    echo "done already: $out"
  elif [ -n "$(ls "$out"/runs/*/checkpoint/checkpoint.bin "$out"/runs/*/diverged.json 2>/dev/null)" ]; then
    $CLI "$@" --out "$out" --resume
  else
    $CLI "$@" --out "$out"
  fi
}
best_lr() { node results/best-lr.mjs "$1/results.json"; }

# The same ablation of Eva's Kronecker vectors in the quick start's setting (batch 250, where g's
# 1/n is 4x larger than at batch 1000): Eva at its tuned lr 0.03 with g multiplied by 0, and that
# without the KL clip, which is SGD at lr 0.03 / damping = 1 (SGD's tuned lr) on kernels and
# biases alike (Eva preconditions both), with weight decay 5e-4 at lr 0.03 (1.5e-5 at lr 1).
quick_ablation() {
  run results/quick-start-eva-vector-scale-runs sweep $QUICK \
    --plugin results/plugins/eva-vector-scale.ts --optimizer eva-vector-scale --lr 0.03 \
    --param vector-scale --values 0
  run results/quick-start-eva-vector-scale-no-clip-runs sweep $QUICK \
    --plugin results/plugins/eva-vector-scale.ts --optimizer eva-vector-scale --lr 0.03 \
    --vector-scale 0 --param kl-clip --values none
  run results/quick-start-eva-vector-scale report \
    --title "autoencoder on mnist (quick start): eva against eva without its curvature term (vector-scale 0), with and without its KL clip" \
    --from results/quick-start-sgd-lr:best,results/quick-start-eva-lr:best,results/quick-start-eva-vector-scale-runs,results/quick-start-eva-vector-scale-no-clip-runs
}

# Does Eva beat SGD through a weaker effective weight decay? Weight decay is added after
# preconditioning (as PyTorch's SGD does in the reference code), and at these settings Eva's step
# is about SGD's at lr / damping: relative to its step, Eva's decay is damping x 5e-4 = 1.5e-5.
# Controls: SGD at its tuned lr with that decay (and none), and Eva with SGD's relative decay
# (5e-4 / damping = 0.0167), beside each setting's tuned SGD and Eva.
weight_decay() {
  run results/quick-start-sgd-weight-decay-runs sweep $QUICK --optimizer sgd --lr 1 \
    --param weight-decay --values 1.5e-5,0
  run results/quick-start-eva-weight-decay-runs sweep $QUICK --optimizer eva --lr 0.03 \
    --param weight-decay --values 0.0167
  run results/quick-start-weight-decay report \
    --title "autoencoder on mnist (quick start): sgd and eva with each other's relative weight decay" \
    --from results/quick-start-sgd-lr:best,results/quick-start-eva-lr:best,results/quick-start-sgd-weight-decay-runs,results/quick-start-eva-weight-decay-runs
  run results/fashion-mnist-sgd-weight-decay-runs sweep $FASHION --epochs 10 --warmup-epochs 1 \
    --optimizer sgd --lr 0.6 --param weight-decay --values 1.5e-5
  run results/fashion-mnist-eva-weight-decay-runs sweep $EVA --param weight-decay --values 0.0167
  run results/fashion-mnist-weight-decay report \
    --title "autoencoder on fashion-mnist: sgd and eva with each other's relative weight decay" \
    --from results/fashion-mnist-autoencoder-sgd-lr:best,results/fashion-mnist-eva-lr:best,results/fashion-mnist-sgd-weight-decay-runs,results/fashion-mnist-eva-weight-decay-runs
}

# The first round's small runs (8k MNIST, 20k Fashion-MNIST, short CNN).
small() {
  run results/autoencoder-mnist-sgd-lr sweep --model autoencoder --data mnist --optimizer sgd \
    --param lr --values 0.1,0.3,1 --epochs 10
  run results/autoencoder-mnist-adagrad-lr sweep --model autoencoder --data mnist \
    --optimizer adagrad --param lr --values 0.003,0.01,0.03 --epochs 10
  run results/autoencoder-mnist compare --model autoencoder --data mnist \
    --optimizers sgd,adagrad,eva,kfac,shampoo --lr-for sgd=1,adagrad=0.003,shampoo=1 --lr 0.1 \
    --inv-update-freq 10 --epochs 10
  run results/autoencoder-fashion-mnist compare --model autoencoder --data fashion-mnist \
    --train-limit 20000 --test-limit 5000 --optimizers sgd,eva,kfac --lr-for sgd=1 --lr 0.1 \
    --inv-update-freq 10 --epochs 5
  run results/vgg-fashion-mnist compare --model vgg --data fashion-mnist --train-limit 6000 \
    --test-limit 2000 --optimizers sgd,eva,kfac --lr 0.05 --inv-update-freq 10 --batch-size 128 \
    --epochs 3 --weight-decay 5e-4
  run results/autoencoder-mnist-eva-lr sweep --model autoencoder --data mnist --optimizer eva \
    --param lr --values 0.1,0.3,1 --epochs 10
}

# The quick start's setting (npm start): the embedded 8k MNIST digits, batch 250, 10 epochs,
# 2 warm-up epochs; SGD's and Eva's learning rates tuned.
QUICK="--model autoencoder --data mnist --batch-size 250 --epochs 10 --warmup-epochs 2"
quick() {
  run results/quick-start-sgd-lr sweep $QUICK --optimizer sgd --param lr --values 0.1,0.3,1,3
  run results/quick-start-eva-lr sweep $QUICK --optimizer eva --param lr --values 0.01,0.03,0.1,0.3
  run results/quick-start report --title "autoencoder on mnist (quick start): each at its best lr" \
    --from results/quick-start-sgd-lr:best,results/quick-start-eva-lr:best
}

# What the worker options' one-refresh lag costs in convergence: K-FAC@10 and Shampoo@10 with
# their inverses/roots on the training thread (the references' schedule) and on a worker thread,
# in the quick start's setting; K-FAC at the paper's lr 0.1, Shampoo at SGD's tuned 1 with the
# authors' in-place Nesterov.
worker_lag() {
  run results/quick-start-kfac-inverse-worker sweep $QUICK --optimizer kfac --inv-update-freq 10 \
    --lr 0.1 --param inverse-worker --values false,true
  run results/quick-start-shampoo-root-worker sweep $QUICK --optimizer shampoo \
    --inv-update-freq 10 --lr 1 --nesterov-variant reference --param root-worker --values false,true
  run results/quick-start-shampoo-root-worker-eps1e-4 sweep $QUICK --optimizer shampoo \
    --inv-update-freq 10 --lr 1 --nesterov-variant reference --matrix-eps 1e-4 \
    --param root-worker --values false,true
}

# Paper scale, Fashion-MNIST (60k / 10k) autoencoder at the paper's batch 1000.
# Learning-rate sweeps of the first-order baselines: 10 epochs, 1 warm-up epoch, linear decay.
FASHION="--model autoencoder --data fashion-mnist --batch-size 1000"
fashion_sweeps() {
  run results/fashion-mnist-autoencoder-sgd-lr sweep $FASHION --epochs 10 --warmup-epochs 1 \
    --optimizer sgd --param lr --values 0.1,0.3,0.6,1
  run results/fashion-mnist-autoencoder-adagrad-lr sweep $FASHION --epochs 10 --warmup-epochs 1 \
    --optimizer adagrad --param lr --values 0.001,0.003,0.01,0.03
  run results/fashion-mnist-autoencoder-adam-lr sweep $FASHION --epochs 10 --warmup-epochs 1 \
    --optimizer adam --param lr --values 0.0003,0.001,0.003,0.01
}

# Eva's learning rate and Table 9's ablations (KL clip off, momentum 0) for Eva: 10 epochs, 1
# warm-up epoch, lr 0.1 unless swept.
EVA="$FASHION --epochs 10 --warmup-epochs 1 --optimizer eva --lr 0.1"
fashion_eva() {
  run results/fashion-mnist-eva-lr sweep $EVA --param lr --values 0.03,0.1,0.3
  run results/fashion-mnist-eva-kl-clip sweep $EVA --param kl-clip --values 0.001,none
  run results/fashion-mnist-eva-momentum sweep $EVA --param momentum --values 0.9,0
}

# Fig. 7's sweeps for Eva (damping, factor decay, batch size), same protocol. The default value
# of each (damping 0.03, factor decay 0.95, batch 1000) is the run "eva lr=0.1" of Eva's lr
# sweep, which each report takes from there instead of training it again.
fashion_fig7() {
  for p in damping:0.003,0.3:0.03 factor-decay:0.5,1:0.95 batch-size:250,500:1000; do
    name=${p%%:*}
    rest=${p#*:}
    run "results/fashion-mnist-eva-$name-runs" sweep $EVA --param "$name" --values "${rest%%:*}"
    run "results/fashion-mnist-eva-$name" report \
      --title "autoencoder on fashion-mnist: eva, $name sweep (eva lr=0.1 is $name ${rest#*:})" \
      --from "results/fashion-mnist-eva-lr:best,results/fashion-mnist-eva-$name-runs"
  done
}

# Fig. 4 and Fig. 5 on Fashion-MNIST: 20 epochs, 2 warm-up epochs, linear decay. The first-order
# baselines at their swept best; Eva at its swept best; Eva-f at Eva's; K-FAC at the paper's 0.1;
# Shampoo and Eva-s (grafted to SGD's step size) at SGD's, with the authors' in-place Nesterov.
# K-FAC and Shampoo refresh their inverses and roots every 10 steps.
fashion_fig4() {
  sgd=$(best_lr results/fashion-mnist-autoencoder-sgd-lr)
  adagrad=$(best_lr results/fashion-mnist-autoencoder-adagrad-lr)
  adam=$(best_lr results/fashion-mnist-autoencoder-adam-lr)
  eva=$(best_lr results/fashion-mnist-eva-lr)
  fig4 results/fashion-mnist-autoencoder "$FASHION"
}

# fig4 <out> <model and data flags>: the 8 optimizers at the learning rates set above, in two
# compares (Shampoo and Eva-s use the authors' in-place Nesterov, which the other optimizers'
# bases do not take), then one report of all runs.
fig4() {
  run "$1-runs/first-order-eva-kfac" compare $2 --epochs 20 --warmup-epochs 2 \
    --optimizers sgd,adagrad,adam,eva,evaf,kfac --inv-update-freq 10 --lr 0.1 \
    --lr-for "sgd=$sgd,adagrad=$adagrad,adam=$adam,eva=$eva,evaf=$eva"
  run "$1-runs/shampoo-evas" compare $2 --epochs 20 --warmup-epochs 2 \
    --optimizers shampoo,evas --inv-update-freq 10 --nesterov-variant reference --lr "$sgd"
  run "$1" report --from "$1-runs/first-order-eva-kfac,$1-runs/shampoo-evas"
}

# Fig. 4 on generated CURVES (20k / 10k, seeded, normalised like the other datasets), same
# protocol as Fashion-MNIST. Split into stages so that two or three queues can share the work:
# the sweeps, then Fig. 4 in three compares (first-order, Eva/Eva-f/K-FAC, Shampoo/Eva-s), then
# `curves` writes the report (and runs whatever of the above is not done).
CURVES="--model autoencoder --data curves --batch-size 1000"
curves_sweep() {
  run "results/curves-autoencoder-$1-lr" sweep $CURVES --epochs 10 --warmup-epochs 1 \
    --optimizer "$1" --param lr --values "$2"
}
# SGD was best at 1, the grid's edge: 2 added, still best by 0.1% (0.886 against 0.887; the
# loss is flat from lr 0.6 on), and larger lrs were not tried. (A finished sweep is extended by
# deleting its results.json; --resume takes the finished runs from their checkpoints.)
curves_sweep_sgd() { curves_sweep sgd 0.1,0.3,0.6,1,2; }
# Adam too was best at its grid's edge (0.003): 0.01 added.
curves_sweep_adam() { curves_sweep adam 0.0003,0.001,0.003,0.01; }
curves_sweeps_first_order() {
  curves_sweep_sgd
  curves_sweep adagrad 0.003,0.01,0.03
  curves_sweep_adam
}
curves_sweep_eva() { curves_sweep eva 0.03,0.1,0.3; }
curves_fig4_first_order() {
  run results/curves-autoencoder-runs/first-order compare $CURVES --epochs 20 --warmup-epochs 2 \
    --optimizers sgd,adagrad,adam --lr-for "sgd=$(best_lr results/curves-autoencoder-sgd-lr),adagrad=$(best_lr results/curves-autoencoder-adagrad-lr),adam=$(best_lr results/curves-autoencoder-adam-lr)"
}
curves_fig4_eva_kfac() {
  eva=$(best_lr results/curves-autoencoder-eva-lr)
  run results/curves-autoencoder-runs/eva-evaf-kfac compare $CURVES --epochs 20 --warmup-epochs 2 \
    --optimizers eva,evaf,kfac --inv-update-freq 10 --lr 0.1 --lr-for "eva=$eva,evaf=$eva"
}
curves_fig4_shampoo() {
  run results/curves-autoencoder-runs/shampoo-evas compare $CURVES --epochs 20 --warmup-epochs 2 \
    --optimizers shampoo,evas --inv-update-freq 10 --nesterov-variant reference \
    --lr "$(best_lr results/curves-autoencoder-sgd-lr)"
}
curves() {
  curves_sweeps_first_order
  curves_sweep_eva
  curves_fig4_first_order
  curves_fig4_eva_kfac
  curves_fig4_shampoo
  run results/curves-autoencoder report --from results/curves-autoencoder-runs/first-order,results/curves-autoencoder-runs/eva-evaf-kfac,results/curves-autoencoder-runs/shampoo-evas
}

# The VGG-style CNN (BatchNorm) on 6,000 Fashion-MNIST images (2,000 test), batch 128, 10 epochs:
# each optimizer's lr swept, then the best run of each side by side (no retraining).
CNN="--model vgg --data fashion-mnist --train-limit 6000 --test-limit 2000 --batch-size 128"
cnn() {
  # SGD and Eva were best at 0.1, the grid's edge: 0.3 added. To extend a finished sweep, delete
  # its results.json: --resume takes the finished runs from their checkpoints.
  for o in sgd:0.01,0.03,0.1,0.3 eva:0.01,0.03,0.1,0.3 kfac:0.01,0.03,0.1; do
    interval=""
    [ "${o%%:*}" = kfac ] && interval="--inv-update-freq 10"
    run "results/fashion-mnist-vgg-${o%%:*}-lr" sweep $CNN --epochs 10 --warmup-epochs 1 \
      --weight-decay 5e-4 $interval --optimizer "${o%%:*}" --param lr --values "${o#*:}"
  done
  run results/fashion-mnist-vgg report --title "vgg on fashion-mnist: each optimizer at its best lr" \
    --from results/fashion-mnist-vgg-sgd-lr:best,results/fashion-mnist-vgg-eva-lr:best,results/fashion-mnist-vgg-kfac-lr:best
}

# Why Eva trails SGD on the CNN (its train loss is higher at every epoch). At batch 128 the KL
# clip binds at every step (the lr 0.3 run records the factor: epochs 1-9), so each step's KL size is the threshold
# whatever the lr: the decay does not anneal Eva's steps. Eva without clipping, where the lr
# scales the step again (lr / damping is its SGD-like step: 0.003 is ~SGD's 0.1), and with a
# looser clip at its best lr.
cnn_kl() {
  eva=$(best_lr results/fashion-mnist-vgg-eva-lr)
  sgd=$(best_lr results/fashion-mnist-vgg-sgd-lr)
  run results/fashion-mnist-vgg-eva-no-kl-clip-lr sweep $CNN --epochs 10 --warmup-epochs 1 \
    --weight-decay 5e-4 --optimizer eva --kl-clip none --param lr --values 0.001,0.003,0.01
  run results/fashion-mnist-vgg-eva-kl-clip-runs sweep $CNN --epochs 10 --warmup-epochs 1 \
    --weight-decay 5e-4 --optimizer eva --lr "$eva" --param kl-clip --values 0.01
  run results/fashion-mnist-vgg-eva-kl-clip report \
    --title "vgg on fashion-mnist: eva with kl-clip 0.001 (its lr sweep's best), 0.01 and off, against sgd at lr $sgd" \
    --from "results/fashion-mnist-vgg-sgd-lr:best,results/fashion-mnist-vgg-eva-lr:best,results/fashion-mnist-vgg-eva-kl-clip-runs,results/fashion-mnist-vgg-eva-no-kl-clip-lr"
}

# Ablation of Eva's Kronecker vectors on the paper's Fashion-MNIST recipe (10 epochs, 1 warm-up,
# lr 0.1): Eva with its gradient vector scaled by 0 (results/plugins/eva-vector-scale.ts), so its
# direction is G / damping with the same KL clipping, beside Eva (its lr sweep's best run).
# The vectors' term is |a|^2 |g|^2 ~ 1e-9 against damping 0.03 in the trained runs' states.
ablation() {
  run results/fashion-mnist-eva-vector-scale-runs sweep $FASHION --epochs 10 --warmup-epochs 1 \
    --plugin results/plugins/eva-vector-scale.ts --optimizer eva-vector-scale --lr 0.1 \
    --param vector-scale --values 0
  run results/fashion-mnist-eva-vector-scale report \
    --title "autoencoder on fashion-mnist: eva against eva without its curvature term (vector-scale 0: G / damping, KL-clipped)" \
    --from "results/fashion-mnist-eva-lr:best,results/fashion-mnist-eva-vector-scale-runs"
  # The same for Eva-f, whose vector (the mean input a) is not small: Eva-f with a multiplied by 0
  # (G / damping, KL-normalised) in Fig. 4's protocol, beside Fig. 4's Eva-f (the best run of
  # Fig. 4's first compare, at Eva's swept lr as here).
  eva=$(best_lr results/fashion-mnist-eva-lr)
  run results/fashion-mnist-evaf-activation-scale-runs sweep $FASHION --epochs 20 --warmup-epochs 2 \
    --plugin results/plugins/evaf-activation-scale.ts --optimizer evaf-activation-scale --lr "$eva" \
    --param activation-scale --values 0
  run results/fashion-mnist-evaf-activation-scale report \
    --title "autoencoder on fashion-mnist: eva-f against eva-f without its curvature term (activation-scale 0: G / damping, KL-normalised)" \
    --from "results/fashion-mnist-autoencoder-runs/first-order-eva-kfac:best,results/fashion-mnist-evaf-activation-scale-runs"
}

# The curvature terms against the damping in trained runs' final states: the table of
# results/curvature-scale.md (printed; it reads the checkpoints the stages above leave in runs/).
curvature() {
  node --conditions=eva-tfjs-source --import tsx results/curvature-scale.ts \
    results/fashion-mnist-eva-lr/runs/eva_lr=0.1 \
    results/fashion-mnist-autoencoder-runs/first-order-eva-kfac/runs/eva \
    results/fashion-mnist-autoencoder-runs/first-order-eva-kfac/runs/evaf \
    results/fashion-mnist-autoencoder-runs/first-order-eva-kfac/runs/kfac \
    results/fashion-mnist-autoencoder-runs/shampoo-evas/runs/evas \
    results/fashion-mnist-vgg-eva-lr/runs/eva_lr=0.1 \
    results/fashion-mnist-vgg-eva-lr/runs/eva_lr=0.3 \
    results/fashion-mnist-vgg-kfac-lr/runs/kfac_lr=0.01 \
    results/fashion-mnist-vgg-kfac-lr/runs/kfac_lr=0.03 \
    results/curves-autoencoder-runs/eva-evaf-kfac/runs/eva \
    results/curves-autoencoder-runs/eva-evaf-kfac/runs/evaf \
    results/curves-autoencoder-runs/eva-evaf-kfac/runs/kfac \
    results/curves-autoencoder-runs/shampoo-evas/runs/evas
}

all_stages="small quick worker_lag fashion_sweeps fashion_eva fashion_fig4 cnn cnn_kl ablation fashion_fig7 curves weight_decay quick_ablation curvature"
for stage in ${@:-$all_stages}; do
  echo "== stage $stage ($(date -u +%FT%TZ))"
  "$stage"
done
