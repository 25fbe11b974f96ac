/// Every struct the codec reads or writes: the layout test checks each against the C headers.
public enum UAPILayouts {
    public static var all: [any UAPIStruct.Type] { [
        VersionArg.self, UniqueArg.self, AuthArg.self, SetVersionArg.self, ClientArg.self, GemCloseArg.self, GemFlinkArg.self, GemOpenArg.self,
        CapArg.self, ClientCapArg.self, PrimeHandleArg.self, WaitVblankArg.self, CrtcGetSequenceArg.self,
        CrtcQueueSequenceArg.self, EventVblankLayout.self, EventCrtcSequenceLayout.self,
        ModeInfoLayout.self, CardResArg.self, CrtcArg.self, SetPlaneArg.self, GetPlaneArg.self, GetPlaneResArg.self,
        GetEncoderArg.self, GetConnectorArg.self, PropertyEnumLayout.self, GetPropertyArg.self,
        ConnectorSetPropertyArg.self, ObjGetPropertiesArg.self, ObjSetPropertyArg.self, GetBlobArg.self,
        CreateBlobArg.self, DestroyBlobArg.self, FbCmdArg.self, FbCmd2Arg.self, FbDirtyArg.self, CursorArg.self,
        CursorV1Layout.self, CrtcLutArg.self, PageFlipArg.self, CreateDumbArg.self, MapDumbArg.self,
        DestroyDumbArg.self, AtomicArg.self, FormatModifierBlobLayout.self, FormatModifierLayout.self,
        CreateLeaseArg.self, ListLesseesArg.self, GetLeaseArg.self, RevokeLeaseArg.self, ClipRectLayout.self, ModeRectLayout.self, ColorLutLayout.self, CloseFbArg.self,
        SyncMergeArg.self, SyncFenceInfoLayout.self, SyncFileInfoArg.self, SyncobjCreateArg.self,
        SyncobjDestroyArg.self, SyncobjHandleArg.self, SyncobjWaitArg.self, SyncobjTimelineWaitArg.self,
        SyncobjArrayArg.self, SyncobjTimelineArrayArg.self, SyncobjTransferArg.self, SyncobjEventfdArg.self,
        VgemFenceAttachArg.self, VgemFenceSignalArg.self,
    ] }
}
