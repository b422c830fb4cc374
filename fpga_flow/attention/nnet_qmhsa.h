// Quantized multi-head self-attention for hls4ml (io_parallel; io_stream projects each
// position as its packet arrives and runs the same attention, with the same arithmetic).
// Arithmetic: every intermediate has a CONFIG_T type (AP_TRN, AP_SAT); softmax reads
// two ROM tables (exp of the spread to the row maximum, and the reciprocal of the sum),
// addressed by the top table_bits bits of an unsigned fixed-point value.
// fpga_flow/attention/reference.py is the bit-exact numpy model of this file.
#ifndef NNET_QMHSA_H_
#define NNET_QMHSA_H_

#include "hls_stream.h"
#include "nnet_common.h"

namespace nnet {

struct qmhsa_config {
    static const unsigned seq_len = 8;
    static const unsigned embed_dim = 16;
    static const unsigned num_heads = 2;
    static const unsigned key_dim = 8;
    static const bool causal = false;
    static const unsigned table_bits = 10;
    static const unsigned table_size = 1024;
    static const unsigned reuse_factor = 1;
};

template <class in_T, class out_T, class w_T, class b_T, class acc_T, unsigned rows, unsigned n_in, unsigned n_out>
void qmhsa_dense(in_T x[rows * n_in], out_T y[rows * n_out], w_T w[n_in * n_out], b_T b[n_out]) {
Rows:
    for (unsigned r = 0; r < rows; r++) {
    Outputs:
        for (unsigned o = 0; o < n_out; o++) {
            acc_T acc = b[o];
        Inputs:
            for (unsigned i = 0; i < n_in; i++) {
                acc += x[r * n_in + i] * w[i * n_out + o];
            }
            y[r * n_out + o] = acc;
        }
    }
}

// Scores, softmax and context of every head and query, from the projections q, k, v
// (T * C values each, row by row) into context.
template <typename CONFIG_T>
void qmhsa_attend(typename CONFIG_T::proj_t q[CONFIG_T::seq_len * CONFIG_T::num_heads * CONFIG_T::key_dim],
                  typename CONFIG_T::proj_t k[CONFIG_T::seq_len * CONFIG_T::num_heads * CONFIG_T::key_dim],
                  typename CONFIG_T::proj_t v[CONFIG_T::seq_len * CONFIG_T::num_heads * CONFIG_T::key_dim],
                  typename CONFIG_T::proj_t context[CONFIG_T::seq_len * CONFIG_T::num_heads * CONFIG_T::key_dim],
                  typename CONFIG_T::exp_t exp_rom[CONFIG_T::table_size],
                  typename CONFIG_T::inv_t inv_rom[CONFIG_T::table_size]) {
    #pragma HLS INLINE
    static const unsigned T = CONFIG_T::seq_len;
    static const unsigned H = CONFIG_T::num_heads;
    static const unsigned K = CONFIG_T::key_dim;
    static const unsigned C = H * K;
    const typename CONFIG_T::scale_t scale = CONFIG_T::scale;
Heads:
    for (unsigned h = 0; h < H; h++) {
    Queries:
        for (unsigned t = 0; t < T; t++) {
            typename CONFIG_T::score_t score[T];
            typename CONFIG_T::exp_t e[T];
            #pragma HLS ARRAY_PARTITION variable = score complete
            #pragma HLS ARRAY_PARTITION variable = e complete
            typename CONFIG_T::score_t peak = 0;
            bool first = true;
        Keys:
            for (unsigned s = 0; s < T; s++) {
                typename CONFIG_T::accum_t acc = 0;
            Dot:
                for (unsigned j = 0; j < K; j++) {
                    acc += q[t * C + h * K + j] * k[s * C + h * K + j];
                }
                score[s] = acc * scale;
                bool valid = !CONFIG_T::causal || s <= t;
                if (valid && (first || score[s] > peak)) {
                    peak = score[s];
                    first = false;
                }
            }
            typename CONFIG_T::accum_t total = 0;
        Exp:
            for (unsigned s = 0; s < T; s++) {
                typename CONFIG_T::norm_t spread = peak - score[s];
                ap_uint<CONFIG_T::table_bits> index =
                    spread(CONFIG_T::norm_t::width - 1, CONFIG_T::norm_t::width - CONFIG_T::table_bits);
                bool valid = !CONFIG_T::causal || s <= t;
                e[s] = valid ? exp_rom[index] : typename CONFIG_T::exp_t(0);
                total += e[s];
            }
            typename CONFIG_T::inv_in_t total_in = total;
            ap_uint<CONFIG_T::table_bits> inv_index =
                total_in(CONFIG_T::inv_in_t::width - 1, CONFIG_T::inv_in_t::width - CONFIG_T::table_bits);
            typename CONFIG_T::inv_t inverse = inv_rom[inv_index];
            // One multiply per probability, shared by the K context sums below.
            typename CONFIG_T::prob_t p[T];
            #pragma HLS ARRAY_PARTITION variable = p complete
        Probabilities:
            for (unsigned s = 0; s < T; s++) {
                p[s] = e[s] * inverse;
            }
        Context:
            for (unsigned j = 0; j < K; j++) {
                typename CONFIG_T::accum_t acc = 0;
            Weighted:
                for (unsigned s = 0; s < T; s++) {
                    acc += p[s] * v[s * C + h * K + j];
                }
                context[t * C + h * K + j] = acc;
            }
        }
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void qmhsa(data_T data[CONFIG_T::seq_len * CONFIG_T::embed_dim], res_T res[CONFIG_T::seq_len * CONFIG_T::embed_dim],
           typename CONFIG_T::weight_t wq[CONFIG_T::embed_dim * CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::bias_t bq[CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::weight_t wk[CONFIG_T::embed_dim * CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::bias_t bk[CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::weight_t wv[CONFIG_T::embed_dim * CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::bias_t bv[CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::weight_t wo[CONFIG_T::num_heads * CONFIG_T::key_dim * CONFIG_T::embed_dim],
           typename CONFIG_T::bias_t bo[CONFIG_T::embed_dim], typename CONFIG_T::exp_t exp_rom[CONFIG_T::table_size],
           typename CONFIG_T::inv_t inv_rom[CONFIG_T::table_size]) {
    static const unsigned T = CONFIG_T::seq_len;
    static const unsigned D = CONFIG_T::embed_dim;
    static const unsigned H = CONFIG_T::num_heads;
    static const unsigned K = CONFIG_T::key_dim;
    static const unsigned C = H * K;
    #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
    #pragma HLS ARRAY_PARTITION variable = data complete
    #pragma HLS ARRAY_PARTITION variable = res complete

    typename CONFIG_T::proj_t q[T * C], k[T * C], v[T * C], context[T * C];
    #pragma HLS ARRAY_PARTITION variable = q complete
    #pragma HLS ARRAY_PARTITION variable = k complete
    #pragma HLS ARRAY_PARTITION variable = v complete
    #pragma HLS ARRAY_PARTITION variable = context complete

    qmhsa_dense<data_T, typename CONFIG_T::proj_t, typename CONFIG_T::weight_t, typename CONFIG_T::bias_t,
                typename CONFIG_T::accum_t, T, D, C>(data, q, wq, bq);
    qmhsa_dense<data_T, typename CONFIG_T::proj_t, typename CONFIG_T::weight_t, typename CONFIG_T::bias_t,
                typename CONFIG_T::accum_t, T, D, C>(data, k, wk, bk);
    qmhsa_dense<data_T, typename CONFIG_T::proj_t, typename CONFIG_T::weight_t, typename CONFIG_T::bias_t,
                typename CONFIG_T::accum_t, T, D, C>(data, v, wv, bv);

    qmhsa_attend<CONFIG_T>(q, k, v, context, exp_rom, inv_rom);
    qmhsa_dense<typename CONFIG_T::proj_t, res_T, typename CONFIG_T::weight_t, typename CONFIG_T::bias_t,
                typename CONFIG_T::accum_t, T, C, D>(context, res, wo, bo);
}

// The attention of the io_stream kernel, pipelined on its own (the array kernel inlines
// qmhsa_attend in its one pipeline).
template <typename CONFIG_T>
void qmhsa_attend_stage(typename CONFIG_T::proj_t q[CONFIG_T::seq_len * CONFIG_T::num_heads * CONFIG_T::key_dim],
                        typename CONFIG_T::proj_t k[CONFIG_T::seq_len * CONFIG_T::num_heads * CONFIG_T::key_dim],
                        typename CONFIG_T::proj_t v[CONFIG_T::seq_len * CONFIG_T::num_heads * CONFIG_T::key_dim],
                        typename CONFIG_T::proj_t context[CONFIG_T::seq_len * CONFIG_T::num_heads * CONFIG_T::key_dim],
                        typename CONFIG_T::exp_t exp_rom[CONFIG_T::table_size],
                        typename CONFIG_T::inv_t inv_rom[CONFIG_T::table_size]) {
    #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
    qmhsa_attend<CONFIG_T>(q, k, v, context, exp_rom, inv_rom);
}

// io_stream: one packet of embed_dim values per position. Every position attends to every
// other, so the whole sequence is projected before the first output; the Q/K/V projections
// are computed one position at a time as its packet is read, and the output projection as
// each packet is written, in loops pipelined at II = reuse_factor, so one position's
// projection hardware serves all seq_len positions (the array kernel unrolls seq_len
// copies). Each sum adds the same products in the same order as the array kernel's.
template <class data_T, class res_T, typename CONFIG_T>
void qmhsa(hls::stream<data_T> &data, hls::stream<res_T> &res,
           typename CONFIG_T::weight_t wq[CONFIG_T::embed_dim * CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::bias_t bq[CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::weight_t wk[CONFIG_T::embed_dim * CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::bias_t bk[CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::weight_t wv[CONFIG_T::embed_dim * CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::bias_t bv[CONFIG_T::num_heads * CONFIG_T::key_dim],
           typename CONFIG_T::weight_t wo[CONFIG_T::num_heads * CONFIG_T::key_dim * CONFIG_T::embed_dim],
           typename CONFIG_T::bias_t bo[CONFIG_T::embed_dim], typename CONFIG_T::exp_t exp_rom[CONFIG_T::table_size],
           typename CONFIG_T::inv_t inv_rom[CONFIG_T::table_size]) {
    static_assert(data_T::size == CONFIG_T::embed_dim && res_T::size == CONFIG_T::embed_dim,
                  "io_stream attention: one packet per position, of embed_dim values");
    static const unsigned T = CONFIG_T::seq_len;
    static const unsigned D = CONFIG_T::embed_dim;
    static const unsigned C = CONFIG_T::num_heads * CONFIG_T::key_dim;
    typedef typename CONFIG_T::proj_t proj_t;
    proj_t q[T * C], k[T * C], v[T * C], context[T * C];
    #pragma HLS ARRAY_PARTITION variable = q complete
    #pragma HLS ARRAY_PARTITION variable = k complete
    #pragma HLS ARRAY_PARTITION variable = v complete
    #pragma HLS ARRAY_PARTITION variable = context complete
ReadSequence:
    for (unsigned t = 0; t < T; t++) {
        #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
        data_T packet = data.read();
        typename data_T::value_type row[D];
        proj_t q_row[C], k_row[C], v_row[C];
        #pragma HLS ARRAY_PARTITION variable = row complete
        #pragma HLS ARRAY_PARTITION variable = q_row complete
        #pragma HLS ARRAY_PARTITION variable = k_row complete
        #pragma HLS ARRAY_PARTITION variable = v_row complete
        for (unsigned i = 0; i < D; i++) {
            row[i] = packet[i];
        }
        qmhsa_dense<typename data_T::value_type, proj_t, typename CONFIG_T::weight_t, typename CONFIG_T::bias_t,
                    typename CONFIG_T::accum_t, 1, D, C>(row, q_row, wq, bq);
        qmhsa_dense<typename data_T::value_type, proj_t, typename CONFIG_T::weight_t, typename CONFIG_T::bias_t,
                    typename CONFIG_T::accum_t, 1, D, C>(row, k_row, wk, bk);
        qmhsa_dense<typename data_T::value_type, proj_t, typename CONFIG_T::weight_t, typename CONFIG_T::bias_t,
                    typename CONFIG_T::accum_t, 1, D, C>(row, v_row, wv, bv);
        for (unsigned j = 0; j < C; j++) {
            q[t * C + j] = q_row[j];
            k[t * C + j] = k_row[j];
            v[t * C + j] = v_row[j];
        }
    }
    qmhsa_attend_stage<CONFIG_T>(q, k, v, context, exp_rom, inv_rom);
WriteSequence:
    for (unsigned t = 0; t < T; t++) {
        #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
        proj_t context_row[C];
        typename res_T::value_type out_row[D];
        #pragma HLS ARRAY_PARTITION variable = context_row complete
        #pragma HLS ARRAY_PARTITION variable = out_row complete
        for (unsigned j = 0; j < C; j++) {
            context_row[j] = context[t * C + j];
        }
        qmhsa_dense<proj_t, typename res_T::value_type, typename CONFIG_T::weight_t, typename CONFIG_T::bias_t,
                    typename CONFIG_T::accum_t, 1, C, D>(context_row, out_row, wo, bo);
        res_T packet;
        PRAGMA_DATA_PACK(packet)
        for (unsigned i = 0; i < D; i++) {
            packet[i] = out_row[i];
        }
        res.write(packet);
    }
}

} // namespace nnet

#endif
