# Training curves from the tables of tools/parse_log.sh (LOG.train: #Iters Seconds TrainingLoss LearningRate,
# LOG.test: #Iters Seconds TestAccuracy TestLoss), as Caffe's tools/extra/plot_log.gnuplot.example.
# Usage:  gnuplot -e "log='logs/lenet.log'; out='logs/lenet_curves'" tools/plot_log.gnuplot
#   log  the path the tables were made from (the script reads log.'.train' and log.'.test')
#   out  folder for the PNGs (must exist): train_loss_vs_iters.png, train_loss_vs_seconds.png,
#        test_accuracy_vs_iters.png, test_loss_vs_iters.png, learning_rate_vs_iters.png
if (!exists("log")) log = "caffe.log"
if (!exists("out")) out = "."
if (!exists("name")) name = log
train = log.".train"
test = log.".test"
set terminal pngcairo size 800,600 noenhanced
set grid
set key off
set style data lines

set output out."/train_loss_vs_iters.png"
set title "Training loss vs. iterations: ".name
set xlabel "Iterations"; set ylabel "Training loss"
plot train using 1:3 with lines lw 2

set output out."/train_loss_vs_seconds.png"
set title "Training loss vs. seconds: ".name
set xlabel "Seconds"; set ylabel "Training loss"
plot train using 2:3 with lines lw 2

set output out."/test_accuracy_vs_iters.png"
set title "Test accuracy vs. iterations: ".name
set xlabel "Iterations"; set ylabel "Test accuracy"
plot test using 1:3 with linespoints lw 2

set output out."/test_loss_vs_iters.png"
set title "Test loss vs. iterations: ".name
set xlabel "Iterations"; set ylabel "Test loss"
plot test using 1:4 with linespoints lw 2

set output out."/learning_rate_vs_iters.png"
set title "Learning rate vs. iterations: ".name
set xlabel "Iterations"; set ylabel "Learning rate"
plot train using 1:4 with steps lw 2
set output
