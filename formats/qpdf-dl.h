/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* libqpdf, loaded the first time a PDF is read rather than at every start: its dependencies (libstdc++,
 * GnuTLS, ...) cost about 4 ms to every process that links it, and kysoctl sign, certs and tokens never read
 * a PDF. The files of formats/ that call qpdf include this header after <qpdf/qpdf-c.h>: each qpdf_* name
 * below then calls through a pointer that qpdf_dl_open() fills (systemd loads optional libraries so). */

#include <qpdf/qpdf-c.h>

/* Loads libqpdf once (thread-safe); 0, or -EOPNOTSUPP when it cannot be loaded (not installed). */
int qpdf_dl_open(void);

#define QPDF_DL_FUNCTIONS(X)               \
        X(qpdf_cleanup)                    \
        X(qpdf_find_page_by_oh)            \
        X(qpdf_get_error)                  \
        X(qpdf_get_error_code)             \
        X(qpdf_get_error_full_text)        \
        X(qpdf_get_error_message_detail)   \
        X(qpdf_get_last_string_length)     \
        X(qpdf_get_num_pages)              \
        X(qpdf_get_object_by_id)           \
        X(qpdf_get_page_n)                 \
        X(qpdf_get_pdf_version)            \
        X(qpdf_get_root)                   \
        X(qpdf_get_trailer)                \
        X(qpdf_has_error)                  \
        X(qpdf_init)                       \
        X(qpdf_is_encrypted)               \
        X(qpdf_more_warnings)              \
        X(qpdf_next_warning)               \
        X(qpdf_oh_begin_dict_key_iter)     \
        X(qpdf_oh_dict_more_keys)          \
        X(qpdf_oh_dict_next_key)           \
        X(qpdf_oh_get_array_item)          \
        X(qpdf_oh_get_array_n_items)       \
        X(qpdf_oh_get_binary_string_value) \
        X(qpdf_oh_get_dict)                \
        X(qpdf_oh_get_generation)          \
        X(qpdf_oh_get_int_value)           \
        X(qpdf_oh_get_key)                 \
        X(qpdf_oh_get_name)                \
        X(qpdf_oh_get_numeric_value)       \
        X(qpdf_oh_get_object_id)           \
        X(qpdf_oh_get_stream_data)         \
        X(qpdf_oh_get_utf8_value)          \
        X(qpdf_oh_get_value_as_longlong)   \
        X(qpdf_oh_has_key)                 \
        X(qpdf_oh_is_array)                \
        X(qpdf_oh_is_dictionary)           \
        X(qpdf_oh_is_indirect)             \
        X(qpdf_oh_is_integer)              \
        X(qpdf_oh_is_name)                 \
        X(qpdf_oh_is_name_and_equals)      \
        X(qpdf_oh_is_null)                 \
        X(qpdf_oh_is_number)               \
        X(qpdf_oh_is_scalar)               \
        X(qpdf_oh_is_stream)               \
        X(qpdf_oh_is_string)               \
        X(qpdf_oh_new_null)                \
        X(qpdf_oh_release)                 \
        X(qpdf_oh_unparse)                 \
        X(qpdf_oh_unparse_resolved)        \
        X(qpdf_read)                       \
        X(qpdf_read_memory)                \
        X(qpdf_set_attempt_recovery)       \
        X(qpdf_set_suppress_warnings)      \
        X(qpdf_silence_errors)

#define QPDF_DL_DECLARE(f) extern typeof(f) *sym_##f;
QPDF_DL_FUNCTIONS(QPDF_DL_DECLARE)
#undef QPDF_DL_DECLARE

#ifndef QPDF_DL_IMPLEMENTATION
#        define qpdf_cleanup sym_qpdf_cleanup
#        define qpdf_find_page_by_oh sym_qpdf_find_page_by_oh
#        define qpdf_get_error sym_qpdf_get_error
#        define qpdf_get_error_code sym_qpdf_get_error_code
#        define qpdf_get_error_full_text sym_qpdf_get_error_full_text
#        define qpdf_get_error_message_detail sym_qpdf_get_error_message_detail
#        define qpdf_get_last_string_length sym_qpdf_get_last_string_length
#        define qpdf_get_num_pages sym_qpdf_get_num_pages
#        define qpdf_get_object_by_id sym_qpdf_get_object_by_id
#        define qpdf_get_page_n sym_qpdf_get_page_n
#        define qpdf_get_pdf_version sym_qpdf_get_pdf_version
#        define qpdf_get_root sym_qpdf_get_root
#        define qpdf_get_trailer sym_qpdf_get_trailer
#        define qpdf_has_error sym_qpdf_has_error
#        define qpdf_init qpdf_dl_init
#        define qpdf_is_encrypted sym_qpdf_is_encrypted
#        define qpdf_more_warnings sym_qpdf_more_warnings
#        define qpdf_next_warning sym_qpdf_next_warning
#        define qpdf_oh_begin_dict_key_iter sym_qpdf_oh_begin_dict_key_iter
#        define qpdf_oh_dict_more_keys sym_qpdf_oh_dict_more_keys
#        define qpdf_oh_dict_next_key sym_qpdf_oh_dict_next_key
#        define qpdf_oh_get_array_item sym_qpdf_oh_get_array_item
#        define qpdf_oh_get_array_n_items sym_qpdf_oh_get_array_n_items
#        define qpdf_oh_get_binary_string_value sym_qpdf_oh_get_binary_string_value
#        define qpdf_oh_get_dict sym_qpdf_oh_get_dict
#        define qpdf_oh_get_generation sym_qpdf_oh_get_generation
#        define qpdf_oh_get_int_value sym_qpdf_oh_get_int_value
#        define qpdf_oh_get_key sym_qpdf_oh_get_key
#        define qpdf_oh_get_name sym_qpdf_oh_get_name
#        define qpdf_oh_get_numeric_value sym_qpdf_oh_get_numeric_value
#        define qpdf_oh_get_object_id sym_qpdf_oh_get_object_id
#        define qpdf_oh_get_stream_data sym_qpdf_oh_get_stream_data
#        define qpdf_oh_get_utf8_value sym_qpdf_oh_get_utf8_value
#        define qpdf_oh_get_value_as_longlong sym_qpdf_oh_get_value_as_longlong
#        define qpdf_oh_has_key sym_qpdf_oh_has_key
#        define qpdf_oh_is_array sym_qpdf_oh_is_array
#        define qpdf_oh_is_dictionary sym_qpdf_oh_is_dictionary
#        define qpdf_oh_is_indirect sym_qpdf_oh_is_indirect
#        define qpdf_oh_is_integer sym_qpdf_oh_is_integer
#        define qpdf_oh_is_name sym_qpdf_oh_is_name
#        define qpdf_oh_is_name_and_equals sym_qpdf_oh_is_name_and_equals
#        define qpdf_oh_is_null sym_qpdf_oh_is_null
#        define qpdf_oh_is_number sym_qpdf_oh_is_number
#        define qpdf_oh_is_scalar sym_qpdf_oh_is_scalar
#        define qpdf_oh_is_stream sym_qpdf_oh_is_stream
#        define qpdf_oh_is_string sym_qpdf_oh_is_string
#        define qpdf_oh_new_null sym_qpdf_oh_new_null
#        define qpdf_oh_release sym_qpdf_oh_release
#        define qpdf_oh_unparse sym_qpdf_oh_unparse
#        define qpdf_oh_unparse_resolved sym_qpdf_oh_unparse_resolved
#        define qpdf_read sym_qpdf_read
#        define qpdf_read_memory sym_qpdf_read_memory
#        define qpdf_set_attempt_recovery sym_qpdf_set_attempt_recovery
#        define qpdf_set_suppress_warnings sym_qpdf_set_suppress_warnings
#        define qpdf_silence_errors sym_qpdf_silence_errors
#endif

/* qpdf_init() once libqpdf is loaded; NULL when it cannot be (as on allocation failure). */
qpdf_data qpdf_dl_init(void);
