"""Drop-in replacements for peer APIs: change the package name in the imports, keep the code.

* `spikestream.compat.spikingjelly`: SpikingJelly 2.0's ``activation_based`` (``neuron``,
  ``layer``, ``functional``, ``surrogate``, ``model.parametric_lif_net``), 0.0.0.0.14's
  ``clock_driven`` spelling (``MultiStepLIFNode(..., backend='cupy')``) and ``datasets``
  (classes reading an ``events_np`` tree in place, ``utils``, ``split_to_train_test_set``,
  ``play_frame``).
* `spikestream.compat.tonic`: Tonic 1.7's ``transforms``, ``datasets`` (``save_to=``, Tonic's
  sample types), ``collation``, ``slicers``, ``DiskCachedDataset`` / ``SlicedDataset`` and
  ``utils.plot_event_grid``.
* `spikestream.compat.norse`: Norse 1.1's ``norse.torch`` LIF / recurrent LIF / leaky-integrator
  cells and layers, parameters, states and ``SequentialState``.

A name a peer has and spikestream does not raises AttributeError saying what to use instead
(ImportError with the same text from ``from ... import Name``).
"""
