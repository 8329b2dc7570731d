# gnuplot: latency percentiles and throughput per phase, omnichat beside the
# direct baseline. Reads results.dat (see run.sh), writes results.png.
set terminal pngcairo size 1200,500 font ",10"
set output outdir."/results.png"
set multiplot layout 1,2 title "omnichat benchmark (".host.")"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -25
set grid ytics
set title "latency (ms)"
set ylabel "ms"
set logscale y
plot outdir."/results.dat" using 4:xtic(1) title "p50", "" using 5 title "p90", "" using 6 title "p99"

set title "throughput (requests/s)"
set ylabel "req/s"
plot outdir."/results.dat" using 2:xtic(1) title "req/s"
unset multiplot
