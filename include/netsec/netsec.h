/*
 * include/netsec/netsec.h - the whole public API of libnetsec.
 *
 * netsec detects network threats with machine learning: it ingests labelled
 * records, validates them, and (in later modules) prepares them, trains
 * classifiers, tracks experiments and serves predictions.  Each area has its
 * own header; this one includes them all.
 */
#ifndef NETSEC_NETSEC_H
#define NETSEC_NETSEC_H

#include "netsec/core.h"
#include "netsec/csv.h"
#include "netsec/frame.h"
#include "netsec/schema.h"
#include "netsec/learn.h"
#include "netsec/predict.h"
#include "netsec/prep.h"
#include "netsec/search.h"
#include "netsec/store.h"
#include "netsec/impute.h"
#include "netsec/config.h"
#include "netsec/json.h"
#include "netsec/multipart.h"
#include "netsec/npy.h"
#include "netsec/pipeline.h"
#include "netsec/registry.h"
#include "netsec/s3.h"
#include "netsec/stats.h"
#include "netsec/track.h"

#endif
