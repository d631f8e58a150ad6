"""What each model of nets/zoo/ must be, computed by hand from its write-up (see each train_val's header).

``input``: (C, H, W) the net sees (after the Data layer's crop); ``shapes``: top shapes without the batch
axis, train_val and deploy alike; ``params``: values in the .caffemodel (Caffe counts BatchNorm's mean,
variance and moving-average factor); ``keras``: the Keras summary's "Total params" where the write-up is a
Keras model (BatchNorm: gamma, beta, moving mean and variance, 4 per channel, no factor); ``batchnorm``:
BatchNorm layers (each stores one value more in Caffe than in Keras).
"""
from __future__ import annotations

CNN2X2 = {
    "input": (1, 48, 48), "classes": 7,
    "shapes": {"conv1_pad": (16, 49, 49), "conv1": (16, 48, 48), "pool1": (16, 24, 24), "conv2": (32, 24, 24),
               "pool2": (32, 12, 12), "conv3": (64, 12, 12), "pool3": (64, 6, 6), "conv4": (128, 6, 6),
               "pool4": (128, 3, 3), "conv5": (256, 3, 3), "pool5": (256, 1, 1), "fc1": (100,), "fc2": (100,),
               "fc3": (7,)},
    # five 2x2 convs (in*4*out + out), then 256 -> 100 -> 100 -> 7
    "params": (1*4*16+16) + (16*4*32+32) + (32*4*64+64) + (64*4*128+128) + (128*4*256+256)
              + (256*100+100) + (100*100+100) + (100*7+7),
    "keras": 211_147, "batchnorm": 0,
}

ZOO = {
    "mlp": {
        "input": (1, 48, 48), "classes": 7,
        "shapes": {"fc1": (100,), "fc2": (100,), "fc3": (100,), "fc4": (7,)},
        "params": (2304*100+100) + 2*(100*100+100) + (100*7+7),
        "keras": 251_407, "batchnorm": 0,
    },
    "cnn2x2": CNN2X2,
    "cnn2x2_weighted": CNN2X2,
    "base_cnn": {
        "input": (1, 48, 48), "classes": 7,
        "shapes": {"conv1": (32, 46, 46), "conv2": (64, 44, 44), "pool2": (64, 22, 22), "fc1": (128,),
                   "fc2": (7,)},
        "params": (1*9*32+32) + (32*9*64+64) + (64*22*22*128+128) + (128*7+7),
        "keras": 3_984_775, "batchnorm": 0,
    },
    "deep_bn_cnn": {
        "input": (1, 48, 48), "classes": 7,
        "shapes": {"conv1": (32, 48, 48), "conv2": (32, 48, 48), "pool2": (32, 24, 24), "conv3": (64, 24, 24),
                   "conv4": (64, 24, 24), "pool4": (64, 12, 12), "conv5": (128, 12, 12), "conv6": (128, 12, 12),
                   "pool6": (128, 6, 6), "fc1": (256,), "fc4": (256,), "fc5": (7,)},
        # convs, dense, BatchNorm (Keras: 4 per channel; Caffe: + 1 factor per layer, 10 layers)
        "params": (1*9*32+32) + (32*9*32+32) + (32*9*64+64) + (64*9*64+64) + (64*9*128+128) + (128*9*128+128)
                  + (128*6*6*256+256) + 3*(256*256+256) + (256*7+7)
                  + 4*(32+32+64+64+128+128) + 4*4*256 + 10,
        "keras": 1_671_399, "batchnorm": 10,
    },
    "resnet48": {
        "input": (1, 48, 48), "classes": 7,
        "shapes": {"conv1": (32, 48, 48), "pool1": (32, 24, 24), "res2a": (32, 24, 24), "res2b": (32, 24, 24),
                   "res3a_branch1": (64, 12, 12), "res3a": (64, 12, 12), "res3b": (64, 12, 12),
                   "res4a": (128, 6, 6), "res4b": (128, 6, 6), "pool5": (128, 1, 1), "fc7": (7,)},
        # bias-free convs; BatchNorm + Scale: 4 per channel over 1,120 channels, + 15 factors; fc7
        "params": 1*9*32 + 4*(32*9*32) + (32*9*64 + 3*64*9*64 + 32*64) + (64*9*128 + 3*128*9*128 + 64*128)
                  + 4*(32 + 4*32 + 5*64 + 5*128) + 15 + (128*7+7),
        "keras": None, "batchnorm": 15,
    },
    "tang_svm": {
        "input": (1, 42, 42), "classes": 7,
        "shapes": {"conv1": (32, 42, 42), "pool1": (32, 21, 21), "conv2": (32, 21, 21), "pool2": (32, 10, 10),
                   "conv3": (64, 10, 10), "pool3": (64, 5, 5), "fc1": (3072,), "fc2": (7,)},
        "params": (1*25*32+32) + (32*25*32+32) + (32*25*64+64) + (64*5*5*3072+3072) + (3072*7+7),
        "keras": None, "batchnorm": 0,
    },
    "jh_v5": {
        # the write-up's Keras 1 code: one grey channel, widths 32, 32, 64, 64, Dense 64, 8 classes
        "input": (1, 150, 150), "classes": 8,
        "shapes": {"conv1": (32, 143, 143), "pool1": (32, 71, 71), "conv2": (32, 67, 67), "pool2": (32, 33, 33),
                   "conv3": (64, 31, 31), "pool3": (64, 15, 15), "conv4": (64, 14, 14), "pool4": (64, 7, 7),
                   "fc1": (64,), "fc2": (8,)},
        "params": (1*64*32+32) + (32*25*32+32) + (32*9*64+64) + (64*4*64+64) + (64*7*7*64+64) + (64*8+8),
        "keras": 263_944, "batchnorm": 0,
    },
    "resnet50_227": {
        "input": (3, 227, 227), "classes": 7,
        "shapes": {"conv1": (64, 114, 114), "pool1": (64, 57, 57), "res2c": (256, 57, 57), "res3d": (512, 29, 29),
                   "res4f": (1024, 15, 15), "res5c": (2048, 8, 8), "pool5": (2048, 1, 1), "fc7_fer": (7,)},
        # ImageNet ResNet-50 (nets/reference, tests/test_reference_nets.py) with a 7-way fc
        "params": 25_610_205 - (2048*1000+1000) + (2048*7+7),
        "keras": None, "batchnorm": 53,
    },
    "googlenet_227": {
        "input": (3, 227, 227), "classes": 7,
        "shapes": {"conv1/7x7_s2": (64, 114, 114), "pool1/3x3_s2": (64, 57, 57), "conv2/3x3": (192, 57, 57),
                   "pool2/3x3_s2": (192, 28, 28), "inception_3b/output": (480, 28, 28),
                   "pool3/3x3_s2": (480, 14, 14), "inception_4e/output": (832, 14, 14),
                   "pool4/3x3_s2": (832, 7, 7), "inception_5b/output": (1024, 7, 7),
                   "pool5/7x7_s1": (1024, 1, 1), "loss3/classifier_fer": (7,)},
        # BVLC GoogLeNet (nets/reference) with a 7-way classifier
        "params": 6_998_552 - (1024*1000+1000) + (1024*7+7),
        "keras": None, "batchnorm": 0,
        # train_val only: the two auxiliary heads (avg pool 5/3 of a 14x14 map -> 4x4)
        "train_shapes": {"loss1/ave_pool": (512, 4, 4), "loss1/fc": (1024,), "loss1/classifier_fer": (7,),
                         "loss2/ave_pool": (528, 4, 4), "loss2/classifier_fer": (7,)},
        "train_params": 6_998_552 - (1024*1000+1000) + (1024*7+7)
                        + (512*128+128) + (528*128+128) + 2*(2048*1024+1024) + 2*(1024*7+7),
    },
}
