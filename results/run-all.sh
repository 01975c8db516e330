#!/bin/sh
# The commands that made the reports under results/ (2-core machine, wasm backend).
# Fashion-MNIST needs Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist).
set -e
cd "$(dirname "$0")/.."
CLI="node --conditions=eva-tfjs-source --import tsx packages/experiments/src/cli/main.ts"

# 1. Learning-rate tuning of the first-order baselines on the autoencoder (3 values each).
$CLI sweep --model autoencoder --data mnist --optimizer sgd --param lr --values 0.1,0.3,1 \
  --epochs 10 --out results/autoencoder-mnist-sgd-lr
$CLI sweep --model autoencoder --data mnist --optimizer adagrad --param lr --values 0.003,0.01,0.03 \
  --epochs 10 --out results/autoencoder-mnist-adagrad-lr

# 2. The paper's comparison on the autoencoder (MNIST): each first-order baseline at its best lr
#    from step 1 (SGD 1, Adagrad 0.003); Eva and K-FAC at the paper's 0.1; Shampoo (grafted to
#    SGD's step size) at SGD's lr. K-FAC and Shampoo refresh inverses every 10 steps.
$CLI compare --model autoencoder --data mnist --optimizers sgd,adagrad,eva,kfac,shampoo \
  --lr-for sgd=1,adagrad=0.003,shampoo=1 --lr 0.1 --inv-update-freq 10 --epochs 10 \
  --out results/autoencoder-mnist

# 3. The autoencoder on Fashion-MNIST (20,000 training images to fit the machine's time budget).
$CLI compare --model autoencoder --data fashion-mnist --train-limit 20000 --test-limit 5000 \
  --optimizers sgd,eva,kfac --lr-for sgd=1 --lr 0.1 --inv-update-freq 10 --epochs 5 \
  --out results/autoencoder-fashion-mnist

# 4. A small CNN classifier (VGG-style with BatchNorm, momentum 0.9) on Fashion-MNIST.
$CLI compare --model vgg --data fashion-mnist --train-limit 6000 --test-limit 2000 \
  --optimizers sgd,eva,kfac --lr 0.05 --inv-update-freq 10 --batch-size 128 --epochs 3 \
  --weight-decay 5e-4 --out results/vgg-fashion-mnist

# 5. Eva's learning rate on the autoencoder (the comparison above used the paper's 0.1).
$CLI sweep --model autoencoder --data mnist --optimizer eva --param lr --values 0.1,0.3,1 \
  --epochs 10 --out results/autoencoder-mnist-eva-lr
